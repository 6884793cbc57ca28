use sotto_core::private_inference::InferenceError;

pub const OK: i32 = 0;
pub const SETUP: i32 = 1;
pub const USAGE: i32 = 2;
pub const CHECK_FAILED: i32 = 3;
/// The agent used its step limit without a final answer.
pub const INCOMPLETE: i32 = 4;
/// Stopped with Ctrl-C (the shell convention: 128 + SIGINT).
pub const INTERRUPTED: i32 = 130;

/// A failure to reach or configure the stack is a set-up problem, and so is a refusal the
/// enclave signed (its receipt verified: nothing was tampered with, the request could not be
/// served — a model not offered, a search provider that failed); everything else means a check
/// on the enclave or the reply failed.
pub fn for_error(e: &InferenceError) -> i32 {
    match e {
        InferenceError::Profile(_)
        | InferenceError::RelayUnreachable { .. }
        | InferenceError::Request(_)
        | InferenceError::Unsupported(_)
        | InferenceError::EnclaveStatus { .. } => SETUP,
        _ => CHECK_FAILED,
    }
}

/// Prints `error: …` on stderr and returns the exit code.
pub fn report(e: &InferenceError) -> i32 {
    eprintln!("error: {e}");
    for_error(e)
}
