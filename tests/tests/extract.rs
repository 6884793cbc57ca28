//! Reading files inside the sandbox (`sotto extract`, `sotto ask --attach`), on files made by
//! other programs: reportlab, openpyxl and python-docx (run in the sandbox's own CPython, not by
//! Sotto's PDF writer), qpdf for encryption, and Python's zipfile/zlib on the host for the bombs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sotto_e2e::{cli, Stack, StackSpec};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes the test files into `dir` with real third-party libraries.
fn make_files(home: &Path, dir: &Path) {
    let code = r#"
import io, openpyxl, docx
from reportlab.pdfgen import canvas
from PIL import Image
wb = openpyxl.Workbook(); ws = wb.active; ws.title = 'North'; ws.append(['item', 'units'])
for i in range(1, 11): ws.append([f'n{i}', i])
ws2 = wb.create_sheet('South'); ws2.append(['item', 'units'])
for i in range(1, 6): ws2.append([f's{i}', i * 2])
wb.save('/work/sales.xlsx'); wb.save('/work/data.xlsx.zip')
d = docx.Document(); d.add_heading('Годовой отчёт', 1); d.add_paragraph('Καλημέρα κόσμε — Привет, мир')
t = d.add_table(rows=2, cols=2); t.cell(0, 0).text = 'Πόλη'; t.cell(0, 1).text = 'Город'; t.cell(1, 0).text = 'Αθήνα'; t.cell(1, 1).text = 'Москва'
d.save('/work/greek.docx')
c = canvas.Canvas('/work/REPORT.PDF')
for i in range(3):
    c.drawString(72, 720, f'Page {i + 1}: quarterly revenue rose by {10 + i} percent'); c.showPage()
c.save()
img = Image.new('RGB', (400, 200), 'white')
for x in range(40, 360):
    for y in range(90, 110): img.putpixel((x, y), (0, 0, 0))
c = canvas.Canvas('/work/scan.pdf'); c.drawInlineImage(img, 72, 400); c.showPage(); c.save()
"#;
    let out = cli(home, &["sandbox", "run", "--workspace", dir.to_str().unwrap(), "--writable", "-c", code]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let qpdf = |args: &[&str]| {
        let s = Command::new("qpdf").args(args).status().expect("qpdf (scripts/setup installs it)");
        assert!(s.success());
    };
    let (report, aes, rc4) = (dir.join("REPORT.PDF"), dir.join("locked-aes.pdf"), dir.join("locked.pdf"));
    qpdf(&["--encrypt", "user-pw", "owner-pw", "256", "--", report.to_str().unwrap(), aes.to_str().unwrap()]);
    qpdf(&["--allow-weak-crypto", "--encrypt", "user-pw", "owner-pw", "128", "--use-aes=n", "--", report.to_str().unwrap(), rc4.to_str().unwrap()]);
    let whole = std::fs::read(&report).unwrap();
    std::fs::write(dir.join("cut.pdf"), &whole[..whole.len() / 2]).unwrap();
    let bombs = r#"
import sys, zipfile, zlib
d = sys.argv[1]
with zipfile.ZipFile(f'{d}/bomb.xlsx', 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('[Content_Types].xml', '<Types/>'); z.writestr('xl/workbook.xml', '<workbook/>')
    info = zipfile.ZipInfo('xl/worksheets/sheet1.xml'); info.compress_type = zipfile.ZIP_DEFLATED
    with z.open(info, 'w', force_zip64=True) as f:
        for _ in range(1024): f.write(bytes(1 << 20))
data = zlib.compress(b' ' * (1 << 30), 9)
objs = [b'<< /Type /Catalog /Pages 2 0 R >>', b'<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        b'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>',
        b'<< /Length %d /Filter /FlateDecode >>\nstream\n' % len(data) + data + b'\nendstream']
out = bytearray(b'%PDF-1.4\n'); offsets = []
for i, o in enumerate(objs, 1):
    offsets.append(len(out)); out += b'%d 0 obj\n' % i + o + b'\nendobj\n'
xref = len(out)
out += b'xref\n0 5\n0000000000 65535 f \n' + b''.join(b'%010d 00000 n \n' % o for o in offsets)
out += b'trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' % xref
open(f'{d}/inflate.pdf', 'wb').write(out)
# A workbook whose sheet declares the whole grid (A1:XFD1048576): read-only readers pad to it.
with zipfile.ZipFile(f'{d}/sales.xlsx') as src, zipfile.ZipFile(f'{d}/wide.xlsx', 'w', zipfile.ZIP_DEFLATED) as dst:
    for item in src.infolist():
        data = src.read(item.filename)
        if item.filename.startswith('xl/worksheets/'):
            import re
            data = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', data)
        dst.writestr(item, data)
"#;
    let s = Command::new("python3").args(["-c", bombs, dir.to_str().unwrap()]).status().expect("python3");
    assert!(s.success());
    std::fs::write(dir.join("notes-utf16.txt"), [&[0xffu8, 0xfe][..], &"Grüße aus Köln — ½ €".encode_utf16().flat_map(|u| u.to_le_bytes()).collect::<Vec<u8>>()].concat()).unwrap();
    std::fs::write(dir.join("latin1.txt"), b"Caf\xe9 cr\xe8me br\xfbl\xe9e, na\xefve fa\xe7ade, d\xe9j\xe0 vu").unwrap();
    std::fs::write(dir.join("page.html"), "<!DOCTYPE html><html><head><script>var secret = 1;</script></head><body><h1>Title</h1><p>Body text</p></body></html>").unwrap();
    std::fs::write(dir.join("data.tsv"), "a\tb\n1\t2\n3\t4\n").unwrap();
    let big = std::fs::File::create(dir.join("huge.csv")).unwrap();
    big.set_len(65 << 20).unwrap();
}

fn extract(home: &Path, file: &Path, env: &[(&str, &str)]) -> (Option<i32>, Value, String) {
    let out = sotto_e2e::cli_with(home, &["extract", "--json", file.to_str().unwrap()], env);
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), text(&out.stderr))
}

/// The files live apart from Sotto's data (the sandbox refuses a folder inside it).
struct Files {
    home: tempfile::TempDir,
    _folder: tempfile::TempDir,
    dir: PathBuf,
}

fn files() -> Files {
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().to_path_buf();
    make_files(home.path(), &dir);
    Files { dir, home, _folder: folder }
}

#[test]
fn office_files_made_by_other_programs_are_read_inside_the_sandbox() {
    let f = files();
    let home = f.home.path();
    // Two sheets: the text holds both; pandas in the sandbox totals them as the test does.
    let (code, x, err) = extract(home, &f.dir.join("sales.xlsx"), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(x["kind"], "xlsx");
    assert_eq!(x["sheets"][0]["name"], "North");
    assert_eq!((x["sheets"][0]["rows"].as_u64(), x["sheets"][1]["rows"].as_u64()), (Some(11), Some(6)));
    assert!(x["text"].as_str().unwrap().contains("| n10 | 10 |"), "{x}");
    let expected: i64 = (1..=10).sum::<i64>() + (1..=5).map(|i| i * 2).sum::<i64>();
    let totals = cli(home, &["sandbox", "run", "--workspace", f.dir.to_str().unwrap(), "-c",
        "import pandas as pd\nsheets = pd.read_excel('/work/sales.xlsx', sheet_name=None)\nprint(sum(int(s['units'].sum()) for s in sheets.values()))"]);
    assert_eq!(text(&totals.stdout).trim(), expected.to_string(), "{}", text(&totals.stderr));
    // A sheet that declares the whole grid is read as the cells it has.
    let (code, wide, err) = extract(home, &f.dir.join("wide.xlsx"), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(wide["sheets"][0]["columns"].as_u64(), Some(2), "{wide}");
    // Told by content, not by name.
    let (_, zipped, _) = extract(home, &f.dir.join("data.xlsx.zip"), &[]);
    assert_eq!(zipped["kind"], "xlsx");

    let (code, d, err) = extract(home, &f.dir.join("greek.docx"), &[]);
    assert_eq!(code, Some(0), "{err}");
    let t = d["text"].as_str().unwrap();
    assert!(t.contains("Годовой отчёт") && t.contains("Καλημέρα κόσμε — Привет, мир") && t.contains("| Αθήνα | Москва |"), "{t}");

    let (code, p, err) = extract(home, &f.dir.join("REPORT.PDF"), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(p["kind"], "pdf");
    assert_eq!(p["pages"].as_array().unwrap().len(), 3);
    assert!(p["text"].as_str().unwrap().contains("--- Page 3 ---\nPage 3: quarterly revenue rose by 12 percent"), "{p}");
    assert_eq!(p["chars"].as_u64(), Some(p["text"].as_str().unwrap().chars().count() as u64));
    assert_eq!(p["truncated"], false);

    for (file, kind, needle) in [
        ("notes-utf16.txt", "text", "Grüße aus Köln — ½ €"),
        ("latin1.txt", "text", "Café crème brûlée"),
        ("page.html", "html", "Body text"),
        ("data.tsv", "tsv", "3\t4"),
    ] {
        let (code, t, err) = extract(home, &f.dir.join(file), &[]);
        assert_eq!(code, Some(0), "{file}: {err}");
        assert_eq!(t["kind"], kind, "{file}");
        assert!(t["text"].as_str().unwrap().contains(needle), "{file}: {t}");
    }
    let (_, html, _) = extract(home, &f.dir.join("page.html"), &[]);
    assert!(!html["text"].as_str().unwrap().contains("secret"), "scripts are not text");
}

#[test]
fn what_cannot_be_read_is_said_in_words_and_limits_stop_bombs() {
    let f = files();
    let home = f.home.path();
    let cases: [(&str, i32, &str); 7] = [
        ("scan.pdf", 1, "no text layer"),
        ("locked.pdf", 1, "encrypted: give its password"),
        ("locked-aes.pdf", 1, "encrypted with AES"),
        ("cut.pdf", 1, "damaged or cut off"),
        ("bomb.xlsx", 3, "a ZIP bomb"),
        ("inflate.pdf", 3, "expands beyond the reader's limit"),
        ("huge.csv", 1, "files are read up to 64 MiB"),
    ];
    for (file, code, says) in cases {
        let (got, _, err) = extract(home, &f.dir.join(file), &[]);
        assert_eq!(got, Some(code), "{file}: {err}");
        assert!(err.contains(says), "{file}: {err}");
        assert!(!err.contains("panicked"), "{file}: {err}");
    }
    let (code, unlocked, err) = extract(home, &f.dir.join("locked.pdf"), &[("SOTTO_PDF_PASSWORD", "user-pw")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(unlocked["text"].as_str().unwrap().contains("quarterly revenue"));
    let (code, _, err) = extract(home, &f.dir.join("locked.pdf"), &[("SOTTO_PDF_PASSWORD", "wrong")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("password is not right"), "{err}");
}

#[test]
fn an_attached_pdf_travels_in_the_exact_request_and_the_reply_verifies() {
    let stack = Stack::start(StackSpec::default());
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path().to_path_buf();
    make_files(stack.home.path(), &dir);
    let p = stack.profile.to_string_lossy().into_owned();
    let pdf = dir.join("REPORT.PDF");
    let out = stack.sotto(&["ask", "--profile", &p, "--json", "--ephemeral", "--attach", pdf.to_str().unwrap(), "Summarise the report"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("REPORT.PDF: PDF, 3 pages"), "the preview: {}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verified"], true);
    let request = &json["request"].to_string();
    assert!(request.contains("Summarise the report") && request.contains("Page 2: quarterly revenue rose by 11 percent"), "{request}");
    // A file that cannot be read stops the request: nothing is sent.
    let scan = dir.join("scan.pdf");
    let out = stack.sotto(&["ask", "--profile", &p, "--json", "--attach", scan.to_str().unwrap(), "Read this"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no text layer") && text(&out.stderr).contains("nothing was sent"), "{}", text(&out.stderr));
}

/// An image goes as an OpenAI `image_url` part only to a model that reads images (the enclave's
/// signed model list says which); to any other, nothing is sent and the user is told why.
#[test]
fn an_attached_image_goes_as_an_image_part_only_to_a_model_that_sees_images() {
    use base64::Engine;
    let folder = tempfile::tempdir().unwrap();
    let png = sotto_e2e::solid_png(8, 8, [200, 30, 30]);
    let photo = folder.path().join("photo.png");
    std::fs::write(&photo, &png).unwrap();

    let blind = Stack::start(StackSpec::default());
    let p = blind.profile.to_string_lossy().into_owned();
    let out = blind.sotto(&["ask", "--profile", &p, "--json", "--attach", photo.to_str().unwrap(), "What colour is this?"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot see images, so nothing was sent"), "{}", text(&out.stderr));
    drop(blind);

    let seeing = Stack::start(StackSpec { accepts_images: true, ..StackSpec::default() });
    let p = seeing.profile.to_string_lossy().into_owned();
    let models = seeing.sotto(&["models", "--profile", &p, "--json"]);
    let models: Value = serde_json::from_slice(&models.stdout).unwrap();
    assert_eq!(models["catalog"][0]["accepts_images"], true, "{models}");
    let out = seeing.sotto(&["ask", "--profile", &p, "--json", "--ephemeral", "--attach", photo.to_str().unwrap(), "What colour is this?"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verified"], true);
    let request: Value = json["request"].clone();
    let parts = request["messages"].as_array().unwrap().last().unwrap()["content"].clone();
    assert_eq!(parts[0], serde_json::json!({"type": "text", "text": "What colour is this?"}));
    let url = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(&png));
    assert_eq!(parts[1]["image_url"]["url"], url.as_str(), "the image itself is in the sealed request the receipt covers");
}
