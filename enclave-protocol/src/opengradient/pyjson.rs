//! JSON written exactly as Python's `json.dumps` writes it with its defaults (`", "` and
//! `": "` separators, `ensure_ascii=True`, `repr` floats), optionally with `sort_keys=True`.
//!
//! OpenGradient's enclaves hash `json.dumps(canonical_request, sort_keys=True)`, so a client
//! must reproduce those bytes exactly, escapes and float spellings included, or no receipt
//! will ever verify.

use std::fmt::Write;

use serde_json::Value;

/// A JSON value whose object keys keep the order they were built in (Python dicts keep
/// insertion order; `serde_json::Map` here sorts).
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    /// Any plain JSON value; its objects are written with sorted keys.
    Json(Value),
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
}

impl From<Value> for Ordered {
    fn from(v: Value) -> Self {
        Ordered::Json(v)
    }
}

/// `json.dumps(value, sort_keys=True)`.
pub fn dumps_sorted(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// `json.dumps(value)` for a value built in insertion order.
pub fn dumps_ordered(value: &Ordered) -> String {
    let mut out = String::new();
    write_ordered(&mut out, value);
    out
}

fn write_ordered(out: &mut String, value: &Ordered) {
    match value {
        Ordered::Json(v) => write_value(out, v),
        Ordered::Array(items) => write_seq(out, '[', ']', items.iter(), write_ordered),
        Ordered::Object(entries) => write_seq(out, '{', '}', entries.iter(), |out, (k, v)| {
            write_str(out, k);
            out.push_str(": ");
            write_ordered(out, v);
        }),
    }
}

fn write_seq<T>(out: &mut String, open: char, close: char, items: impl Iterator<Item = T>, mut each: impl FnMut(&mut String, T)) {
    out.push(open);
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        each(out, item);
    }
    out.push(close);
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => {
                let _ = write!(out, "{i}");
            }
            (None, Some(u), _) => {
                let _ = write!(out, "{u}");
            }
            (None, None, Some(f)) => out.push_str(&float_repr(f)),
            _ => out.push_str("null"),
        },
        Value::String(s) => write_str(out, s),
        Value::Array(items) => write_seq(out, '[', ']', items.iter(), write_value),
        // serde_json's map is ordered by key, which is the code-point order Python sorts by.
        Value::Object(map) => write_seq(out, '{', '}', map.iter(), |out, (k, v)| {
            write_str(out, k);
            out.push_str(": ");
            write_value(out, v);
        }),
    }
}

/// A string with `ensure_ascii=True` escaping (astral characters as surrogate pairs).
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation for
/// exponents from -4 to 15 and scientific (`1e-05`, `1.5e+16`) outside.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len() as i32;
    let body = if (-4..16).contains(&exp) {
        if exp < 0 {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else if exp + 1 >= n {
            format!("{digits}{}.0", "0".repeat((exp + 1 - n) as usize))
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            format!("{int}.{frac}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let mant = if rest.is_empty() { first.to_string() } else { format!("{first}.{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{esign}{:02}", exp.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_are_spelled_as_python_spells_them() {
        for (f, py) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.7, "0.7"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (123.456, "123.456"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (2.5e-7, "2.5e-07"),
            (1e100, "1e+100"),
            (-3.25, "-3.25"),
        ] {
            assert_eq!(float_repr(f), py, "{f}");
        }
    }

    #[test]
    fn strings_are_escaped_as_with_ensure_ascii() {
        let mut s = String::new();
        write_str(&mut s, "é\"\\\n\u{1}\u{7f}😀/<");
        assert_eq!(s, r#""\u00e9\"\\\n\u0001\u007f\ud83d\ude00/<""#);
    }

    #[test]
    fn separators_and_key_order_follow_json_dumps() {
        let v = json!({"b": [1, 2.0, null, true], "a": {"y": "x", "x": {}}, "c": []});
        assert_eq!(dumps_sorted(&v), r#"{"a": {"x": {}, "y": "x"}, "b": [1, 2.0, null, true], "c": []}"#);
        let o = Ordered::Object(vec![("z".into(), json!(1).into()), ("a".into(), Ordered::Array(vec![]))]);
        assert_eq!(dumps_ordered(&o), r#"{"z": 1, "a": []}"#);
    }
}
