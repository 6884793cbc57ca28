//! The real SmolLM2 GGUF: tokenizer, template, streaming and stopping. This 135M model gets facts
//! wrong, so nothing here checks what it says — only how.

use sotto_embedded_model::{default_model_path, ChatTurn, EmbeddedModel, Finish, GenerationParams};

fn model() -> EmbeddedModel {
    let path = default_model_path();
    EmbeddedModel::load(&path).unwrap_or_else(|e| panic!("{e} (run scripts/setup)"))
}

fn user(text: &str) -> Vec<ChatTurn> {
    vec![ChatTurn { role: "user".into(), content: text.into() }]
}

#[test]
fn special_tokens_do_not_shift_the_text_after_them() {
    let m = model();
    let after_special = m.tokenize("<|im_start|>user\nHello 123").unwrap();
    let plain = m.tokenize("user\nHello 123").unwrap();
    assert_eq!(after_special[0], m.tokenize("<|im_start|>").unwrap()[0]);
    assert_eq!(&after_special[1..], plain.as_slice(), "no prefix space may appear after a special token");
    // Digits are split one by one, as SmolLM's pre-tokenizer does.
    let digits = m.tokenize("123").unwrap();
    assert_eq!(digits.len(), 3);
}

#[test]
fn the_gguf_template_renders_a_chat_prompt() {
    let m = model();
    let prompt = m.render(&user("Hi")).unwrap();
    assert!(prompt.contains("<|im_start|>user\nHi<|im_end|>"), "{prompt}");
    assert!(prompt.ends_with("<|im_start|>assistant\n"), "{prompt}");
}

#[test]
fn generation_streams_pieces_and_stops() {
    let m = model();
    let params = GenerationParams { max_tokens: 12, temperature: 0.0, ..Default::default() };
    let mut pieces = Vec::new();
    let finish = m.generate(&user("Say hello."), &params, |p| { pieces.push(p.to_string()); true }).unwrap();
    assert!(!pieces.is_empty());
    assert!(pieces.len() <= 12);
    assert!(matches!(finish, Finish::Stop | Finish::Length));
    let text: String = pieces.concat();
    assert!(!text.contains("<|im_end|>"), "special tokens must not leak: {text}");

    // Greedy decoding is deterministic.
    let mut again = Vec::new();
    m.generate(&user("Say hello."), &params, |p| { again.push(p.to_string()); true }).unwrap();
    assert_eq!(pieces, again);

    // The caller can stop it.
    let mut n = 0;
    let finish = m.generate(&user("Count to fifty."), &params, |_| { n += 1; n < 3 }).unwrap();
    assert_eq!(finish, Finish::Cancelled);
    assert_eq!(n, 3);
}

#[test]
fn a_missing_model_file_is_a_clear_error() {
    let err = EmbeddedModel::load(std::path::Path::new("/nonexistent/model.gguf")).err().unwrap();
    assert!(err.to_string().contains("scripts/setup"), "{err}");
}
