//! Sessions (state kept across turns) and host tools (`from host import tools`) with the real
//! CPython. Needs `scripts/setup`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::runtime;
use serde_json::{json, Map, Value};
use sotto_agent_sandbox::{Grants, Limits, SandboxError, ToolFailure, ToolHost, ToolSpec};

#[tokio::test(flavor = "multi_thread")]
async fn names_and_imports_survive_between_turns() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("d.csv"), "a,b\n1,10\n2,20\n3,30\n").unwrap();
    let grants = Grants { workspace: Some(ws.path().into()), ..Grants::default() };
    let mut s = runtime().open_session(&grants, Limits::default()).await.unwrap();
    let first = s.run("import pandas as pd\ndf = pd.read_csv('/work/d.csv')\nprint(len(df))").await.unwrap();
    assert_eq!((first.exit_code, first.stdout.trim()), (Some(0), "3"), "{}", first.stderr);
    let second = s.run("print(int((df.a * df.b).sum()))").await.unwrap();
    assert_eq!((second.exit_code, second.stdout.trim()), (Some(0), "140"), "{}", second.stderr);
    // Each turn's output is its own.
    assert!(!second.stdout.contains('3'));
    // An exception is reported and the session goes on.
    let failed = s.run("raise KeyError('nope')").await.unwrap();
    assert_ne!(failed.exit_code, Some(0));
    assert!(failed.stderr.contains("KeyError"), "{}", failed.stderr);
    assert!(s.ended().is_none());
    let after = s.run("print(df.b.max())").await.unwrap();
    assert_eq!(after.stdout.trim(), "30", "{}", after.stderr);
    s.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_past_its_deadline_ends_the_session_and_says_so() {
    let limits = Limits { deadline: Duration::from_secs(2), ..Limits::default() };
    let mut s = runtime().open_session(&Grants::default(), limits).await.unwrap();
    assert_eq!(s.run("x = 41").await.unwrap().exit_code, Some(0));
    let stuck = s.run("while True:\n    x += 1").await.unwrap();
    assert_eq!(stuck.trapped.as_deref(), Some("deadline"));
    assert!(s.ended().is_some());
    assert!(matches!(s.run("print(x)").await, Err(SandboxError::SessionEnded(_))));
    // A fresh session is unaffected.
    let mut fresh = runtime().open_session(&Grants::default(), limits).await.unwrap();
    assert_eq!(fresh.run("print('ok')").await.unwrap().stdout.trim(), "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_ends_a_session() {
    let mut s = runtime().open_session(&Grants::default(), Limits::default()).await.unwrap();
    let r = s.run("exit(3)").await.unwrap();
    assert_eq!(r.exit_code, Some(3));
    assert!(s.ended().is_some());
}

/// A host offering one narrow function and remembering what it was asked.
#[derive(Default)]
struct Lookup {
    asked: Mutex<Vec<String>>,
}

impl ToolHost for Lookup {
    fn tools(&self) -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "exchange_rate".into(),
            description: "The exchange rate from one currency to another.".into(),
            input_schema: json!({"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"}}, "required": ["from", "to"]}),
        }]
    }

    fn call(&self, _name: &str, args: &Map<String, Value>) -> Result<Value, ToolFailure> {
        let from = args.get("from").and_then(Value::as_str).unwrap_or_default();
        self.asked.lock().unwrap().push(from.to_string());
        match from {
            "EUR" => Ok(json!(1.08)),
            other => Err(ToolFailure::failed(format!("no rate for {other}"))),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_code_calls_host_tools_and_gets_their_errors() {
    let host = Arc::new(Lookup::default());
    let grants = Grants { tools: Some(host.clone()), ..Grants::default() };
    let mut s = runtime().open_session(&grants, Limits::default()).await.unwrap();
    let code = "from host import tools\nprint(tools.exchange_rate(**{'from': 'EUR', 'to': 'USD'}) * 100)\ntry:\n    tools.exchange_rate(**{'from': 'XYZ', 'to': 'USD'})\nexcept Exception as e:\n    print(type(e).__name__, e)";
    let r = s.run(code).await.unwrap();
    assert_eq!(r.exit_code, Some(0), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "108.0");
    assert!(lines[1].contains("no rate for XYZ"), "{}", r.stdout);
    assert_eq!(*host.asked.lock().unwrap(), vec!["EUR", "XYZ"]);

    // Without a tool host the guest is told there is none, and nothing breaks.
    let mut bare = runtime().open_session(&Grants::default(), Limits::default()).await.unwrap();
    let r = bare.run("try:\n    from host import tools\n    print('tools', tools)\nexcept Exception as e:\n    print('no host:', type(e).__name__)").await.unwrap();
    assert!(r.stdout.starts_with("no host:"), "{r:?}");
}
