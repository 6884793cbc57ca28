//! The local agent end to end: `sotto agent run` through the real local stack (relay + enclave
//! gateway with the scripted back-end standing in for the model), tools run on this machine in
//! the real sandbox, and the final reply verifies.

use serde_json::{json, Value};
use sotto_e2e::{cli_with, tool_calls, Stack, StackSpec};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A CSV with known totals per region.
fn write_sales(dir: &std::path::Path) -> Vec<(String, i64)> {
    let regions = ["north", "south", "east", "west"];
    let mut csv = String::from("region,units\n");
    let mut totals = vec![0i64; 4];
    for i in 0..400i64 {
        let r = (i * 7 % 4) as usize;
        let units = i * 13 % 97 + 1;
        totals[r] += units;
        csv.push_str(&format!("{},{units}\n", regions[r]));
    }
    std::fs::write(dir.join("sales.csv"), csv).unwrap();
    regions.iter().map(|r| r.to_string()).zip(totals).collect()
}

#[test]
fn the_agent_analyses_a_csv_in_two_python_steps_writes_a_chart_and_a_summary_and_the_reply_verifies() {
    let load = "import pandas as pd\ndf = pd.read_csv('/work/sales.csv')\nprint(len(df), 'rows')";
    // Uses `df` from the previous step: the session keeps it.
    let analyse = "import matplotlib.pyplot as plt\ntotals = df.groupby('region')['units'].sum().sort_index()\nfor region, units in totals.items():\n    print(region, int(units))\ntotals.plot(kind='bar', figsize=(4, 3))\nplt.tight_layout()\nplt.savefig('/work/chart.png', dpi=60)";
    let summary = "# Sales by region\n\n![units by region](chart.png)\n\nNorth, south, east and west, from sales.csv.\n";
    let replies = json!([
        tool_calls(&[("list_files", json!({}))]),
        tool_calls(&[("run_python", json!({"code": load}))]),
        tool_calls(&[("run_python", json!({"code": analyse}))]),
        tool_calls(&[
            ("write_file", json!({"path": "summary.md", "content": summary})),
            ("make_pdf", json!({"path": "report.pdf", "markdown": summary})),
            ("read_file", json!({"path": "../../../../etc/passwd"})),
            ("write_file", json!({"path": "/etc/sotto-escape", "content": "x"})),
        ]),
        {"chunks": [{"text": "The totals are in summary.md, "}, {"text": "with a chart."}]},
    ]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let workspace = tempfile::tempdir().unwrap();
    let expected = write_sales(workspace.path());
    let args = ["agent", "run", "--profile", stack.profile.to_str().unwrap(), "--workspace", workspace.path().to_str().unwrap(), "--writes", "allow", "--json", "Total the units per region and chart them"];
    let out = cli_with(stack.home.path(), &args, &[("SOTTO_PASSPHRASE", "e2e passphrase")]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)));

    assert_eq!(run["ended"], "answer");
    assert_eq!(run["verified"], true);
    assert_eq!(run["reply"], "The totals are in summary.md, with a chart.");
    assert!(run["receipt"]["output_hash"].is_string(), "{}", run["receipt"]);
    assert!(run["conversation_id"].is_string(), "stored: {}", text(&out.stderr));
    let steps = run["steps"].as_array().unwrap();
    let tools: Vec<&str> = steps.iter().map(|s| s["tool"].as_str().unwrap()).collect();
    assert_eq!(tools, ["list_files", "run_python", "run_python", "write_file", "make_pdf", "read_file", "write_file"]);
    // Five requests left the device: the task, then one per reply with tool calls.
    assert_eq!(run["requests"].as_array().unwrap().len(), 5);
    assert!(steps.iter().all(|s| s["sent_bytes"].as_u64().is_some_and(|b| b > 0)), "every result was sent");

    assert!(steps[0]["output"].as_str().unwrap().contains("sales.csv"), "{}", steps[0]["output"]);
    assert_eq!(steps[1]["output"].as_str().unwrap().trim(), "400 rows");
    let printed = steps[2]["output"].as_str().unwrap();
    for (region, total) in &expected {
        assert!(printed.contains(&format!("{region} {total}\n")), "{region} {total} not in {printed}");
    }
    assert_eq!(steps[2]["files"], json!(["chart.png"]));
    let png = std::fs::read(workspace.path().join("chart.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(std::fs::read_to_string(workspace.path().join("summary.md")).unwrap(), summary);
    let pdf = std::fs::read(workspace.path().join("report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));

    // The escapes came back as error results; the run went on.
    for escape in &steps[5..7] {
        assert_eq!(escape["ok"], false, "{escape}");
        assert!(escape["output"].as_str().unwrap().contains("outside the workspace"), "{escape}");
    }
    assert!(!steps[5]["output"].as_str().unwrap().contains("root:"));
    assert!(!std::path::Path::new("/etc/sotto-escape").exists());

    // The run is in the history: the task, and the verified reply with its receipt.
    let id = run["conversation_id"].as_str().unwrap();
    let shown = cli_with(stack.home.path(), &["history", "show", "--json", id], &[("SOTTO_PASSPHRASE", "e2e passphrase")]);
    let c: Value = serde_json::from_slice(&shown.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&shown.stderr)));
    assert_eq!(c["messages"][0]["content"], "Total the units per region and chart them");
    assert_eq!(c["messages"][1]["content"], "The totals are in summary.md, with a chart.");
    assert_eq!(c["messages"][1]["status"], "development");
}

#[test]
fn without_approval_nothing_is_written_and_the_agent_is_told_so() {
    let replies = json!([
        tool_calls(&[("write_file", json!({"path": "notes.md", "content": "hello"}))]),
        tool_calls(&[("run_python", json!({"code": "open('/work/py.txt', 'w').write('x')"}))]),
        {"chunks": [{"text": "I could not write."}]},
    ]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let workspace = tempfile::tempdir().unwrap();
    // No terminal to ask on, policy "ask": every write is refused.
    let args = ["agent", "run", "--profile", stack.profile.to_str().unwrap(), "--workspace", workspace.path().to_str().unwrap(), "--writes", "ask", "--ephemeral", "--json", "Write a note"];
    let out = cli_with(stack.home.path(), &args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps[0]["ok"], false);
    assert!(steps[0]["output"].as_str().unwrap().contains("did not allow"), "{}", steps[0]);
    assert_eq!(steps[1]["ok"], false);
    assert!(steps[1]["output"].as_str().unwrap().contains("read-only"), "{}", steps[1]);
    assert_eq!(std::fs::read_dir(workspace.path()).unwrap().count(), 0);
    assert!(run["conversation_id"].is_null());
}

#[test]
fn a_reply_that_fails_verification_stops_the_agent_before_any_tool_runs() {
    let replies = json!([tool_calls(&[("run_python", json!({"code": "open('/work/ran.txt','w').write('x')"}))])]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let workspace = tempfile::tempdir().unwrap();
    // A wrong expected measurement: the enclave is refused, so no reply (and no tool call) is used.
    let wrong = format!("0={}", "ab".repeat(48));
    let args = [
        "agent", "run", "--profile", stack.profile.to_str().unwrap(), "--expect-pcr", &wrong,
        "--workspace", workspace.path().to_str().unwrap(), "--writes", "allow", "--ephemeral", "--json", "Do it",
    ];
    let out = cli_with(stack.home.path(), &args, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["ended"], "failed");
    assert!(run["error"].as_str().unwrap().contains("PCR0"), "{}", run["error"]);
    assert_eq!(run["steps"], json!([]));
    assert!(!workspace.path().join("ran.txt").exists());
}

#[test]
fn runaway_code_is_stopped_the_model_is_told_and_the_next_step_gets_a_fresh_session() {
    let replies = json!([
        tool_calls(&[("run_python", json!({"code": "x = 1\nwhile True:\n    x += 1"}))]),
        tool_calls(&[("run_python", json!({"code": "print('alive', 'x' in globals())"}))]),
        {"chunks": [{"text": "That loop never ended."}]},
    ]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let workspace = tempfile::tempdir().unwrap();
    let args = [
        "agent", "run", "--profile", stack.profile.to_str().unwrap(), "--workspace", workspace.path().to_str().unwrap(),
        "--deadline-s", "2", "--ephemeral", "--json", "Count forever",
    ];
    let out = cli_with(stack.home.path(), &args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps[0]["ok"], false);
    let stopped = steps[0]["output"].as_str().unwrap();
    assert!(stopped.contains("deadline limit") && stopped.contains("variables are gone"), "{stopped}");
    let after = steps[1]["output"].as_str().unwrap();
    assert!(after.contains("new one") && after.contains("alive False"), "{after}");
    assert_eq!(run["verified"], true);
}

/// The agent reads office files with the same shelf as attachments: `read_file` on a Word file
/// returns its text (read in the sandbox), and `run_python` opens Word and Excel files itself.
#[test]
fn the_agent_reads_word_and_excel_files_through_the_sandboxed_reader_and_in_python() {
    let workspace = tempfile::tempdir().unwrap();
    let maker = tempfile::tempdir().unwrap();
    let make = "import docx, openpyxl\nd = docx.Document(); d.add_paragraph('Ζήτηση — спрос rose in March'); d.save('/work/memo.docx')\nwb = openpyxl.Workbook(); ws = wb.active; ws.append(['month', 'units']); ws.append(['Jan', 3]); ws.append(['Feb', 4]); wb.save('/work/units.xlsx')";
    let made = cli_with(maker.path(), &["sandbox", "run", "--workspace", workspace.path().to_str().unwrap(), "--writable", "-c", make], &[]);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    let python = "import docx, pandas as pd\nprint(docx.Document('/work/memo.docx').paragraphs[0].text)\nprint(int(pd.read_excel('/work/units.xlsx')['units'].sum()))";
    let replies = json!([
        tool_calls(&[("read_file", json!({"path": "memo.docx"})), ("read_file", json!({"path": "units.xlsx"}))]),
        tool_calls(&[("run_python", json!({"code": python}))]),
        {"chunks": [{"text": "Read both."}]},
    ]);
    let stack = Stack::start(StackSpec { replies, ..StackSpec::default() });
    let args = ["agent", "run", "--profile", stack.profile.to_str().unwrap(), "--workspace", workspace.path().to_str().unwrap(), "--json", "Read the memo and the units"];
    let out = cli_with(stack.home.path(), &args, &[("SOTTO_PASSPHRASE", "e2e passphrase")]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = run["steps"].as_array().unwrap();
    let memo = steps[0]["output"].as_str().unwrap();
    assert!(memo.contains("DOCX") && memo.contains("Ζήτηση — спрос rose in March"), "{memo}");
    let units = steps[1]["output"].as_str().unwrap();
    assert!(units.contains("XLSX") && units.contains("| Feb | 4 |"), "{units}");
    let printed = steps[2]["output"].as_str().unwrap();
    assert!(printed.contains("Ζήτηση — спрос rose in March") && printed.contains('7'), "{printed}");
}
