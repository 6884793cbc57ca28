//! A decrypted reply: the Binary HTTP response (head, content, trailer), its server-sent events
//! (text, tool-call pieces, web search sources) or whole JSON body, and the receipt trailer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sotto_private_inference::fuzzing::reply_message(data));
