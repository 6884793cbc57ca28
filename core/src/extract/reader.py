# Sotto's file reader. It runs inside the sandbox (CPython for WASI in wasmtime, no network, a
# deadline and a memory cap), never in the app's own process: the file is granted read-only at
# /work/input and this program prints one JSON object describing what it found.
#
# The kind is recognised by content (magic bytes, the parts inside a ZIP), the name is only a
# hint. Output: {"ok": true, "kind", "text", "pages" | "sheets", "chars", "truncated"} or
# {"ok": false, "code", "reason"} with code one of: encrypted, no_text, unreadable, too_large,
# unsupported, limit.

import codecs
import csv
import io
import json
import logging
import re
import sys
import warnings
import zipfile

# Only the one JSON answer goes to stdout: libraries that print (xlrd's warnings) write to
# stderr instead, and their log chatter is silenced so it cannot fill the output cap.
_ANSWER = sys.stdout
sys.stdout = sys.stderr
logging.disable(logging.CRITICAL)
warnings.simplefilter("ignore")
MAX_COLUMNS = 200

PATH = SOTTO_ARGS.get("path", "/work/input")  # noqa: F821 (the bench runs this same reader natively)
ARGS = SOTTO_ARGS  # noqa: F821 (set by the host in the line before this program)
MAX_CHARS = ARGS["max_chars"]
MAX_ROWS = ARGS["max_rows"]
MAX_EXPANDED = ARGS["max_expanded"]


class Refusal(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def emit(obj):
    _ANSWER.write(json.dumps(obj, ensure_ascii=False))
    _ANSWER.flush()


SURROGATES = re.compile("[\ud800-\udfff]")


def finish(kind, parts, cut=False, **extra):
    """parts: the text pieces in order; the text is cut at MAX_CHARS, and `cut` says the source
    was not read to its end: either way the answer says it was truncated."""
    text = SURROGATES.sub("\ufffd", "\n\n".join(p for p in parts if p))
    truncated = cut or len(text) > MAX_CHARS
    text = text[:MAX_CHARS]
    emit(dict(ok=True, kind=kind, text=text, chars=len(text), truncated=truncated, **extra))


class Budget:
    """A running count of the text gathered, so long documents stop early (no re-summing)."""

    def __init__(self):
        self.used = 0

    def add(self, piece):
        self.used += len(piece) + 2
        return piece

    @property
    def full(self):
        return self.used > MAX_CHARS


def head(n=4096):
    with open(PATH, "rb") as f:
        return f.read(n)


def decode_text(raw, cut):
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(enc, errors="replace"), enc
    try:
        # A cut may fall inside a character: the incremental decoder leaves it for "later".
        return codecs.getincrementaldecoder("utf-8")().decode(raw, final=not cut), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes
        matches = list(from_bytes(raw[: 1 << 20]))
        if matches:
            # Among equally plausible single-byte guesses, Windows-1252 (Western Europe) is by far
            # the most common legacy encoding; a short sample cannot tell cp1250 from it.
            least = min(m.percent_chaos for m in matches)
            tied = [m for m in matches if m.percent_chaos <= least + 0.5]
            choice = next((m for m in tied if m.encoding in ("cp1252", "latin_1", "iso8859_15")), tied[0])
            return raw.decode(choice.encoding, errors="replace"), choice.encoding
    except Exception:
        pass
    return raw.decode("cp1252", errors="replace"), "cp1252"


def trimmed(row):
    """A row without its empty tail (read-only openpyxl pads rows to the sheet's declared width)."""
    row = list(row)[:MAX_COLUMNS]
    while row and (row[-1] is None or row[-1] == ""):
        row.pop()
    return row


def table_markdown(rows, name=None):
    rows = [["" if c is None else str(c).replace("\n", " ").replace("|", "\\|") for c in r] for r in rows]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    title = f"## Sheet: {name}\n\n" if name is not None else ""
    return title + "\n".join(lines)


# ---- PDF ---------------------------------------------------------------------------------------

def page_over_limit(page):
    """pypdf's text extraction swallows its own decompression limit: look for it directly."""
    try:
        contents = page.get_contents()
        if contents is not None:
            contents.get_data()
    except Exception as e:
        return "Limit" in type(e).__name__
    return False


def read_pdf():
    import pypdf
    from pypdf.errors import DependencyError, PdfReadError
    try:
        try:
            reader = pypdf.PdfReader(PATH, strict=False)
        except DependencyError:
            raise Refusal("encrypted", "the PDF is encrypted with AES, which Sotto's reader cannot open even with "
                                       "its password; save a copy without a password and attach that (nothing was sent)")
        if reader.is_encrypted:
            password = ARGS.get("password") or ""
            try:
                ok = reader.decrypt(password)
            except Exception:
                ok = 0
            if not ok:
                raise Refusal("encrypted", "the PDF is encrypted: give its password to read it (nothing was sent)"
                              if not password else "the PDF's password is not right (nothing was sent)")
        pages = []
        parts = []
        budget = Budget()
        total_pages = len(reader.pages)
        for i, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            if not text and page_over_limit(page):
                raise Refusal("limit", f"page {i} of the PDF holds a stream that expands beyond the reader's "
                                       "limit (a decompression bomb?); it was not read")
            pages.append({"number": i, "chars": len(text)})
            parts.append(budget.add(f"--- Page {i} ---\n{text}" if text else f"--- Page {i} ---"))
            if budget.full:
                break
    except Refusal:
        raise
    except Exception as e:  # pypdf's limits, damaged files, cut-off files
        name = type(e).__name__
        if "Limit" in name:
            raise Refusal("limit", f"the PDF holds a stream that expands beyond the reader's limit ({e}); it was not read")
        if isinstance(e, (PdfReadError, ValueError, KeyError, EOFError)) or "pdf" in str(e).lower():
            raise Refusal("unreadable", f"the PDF is damaged or cut off and cannot be read ({e})")
        raise Refusal("unreadable", f"the PDF cannot be read ({name}: {e})")
    if not pages:
        raise Refusal("unreadable", "the PDF has no pages")
    if not any(p["chars"] for p in pages):
        raise Refusal("no_text", f"the PDF has {len(pages)} page(s) but no text layer (it is scanned images, "
                                 "and Sotto does not read text from pictures); nothing was sent")
    finish("pdf", parts, cut=len(pages) < total_pages, pages=pages)


# ---- Office files inside a ZIP -------------------------------------------------------------------

def open_zip():
    try:
        z = zipfile.ZipFile(PATH)
    except zipfile.BadZipFile as e:
        raise Refusal("unreadable", f"the file looks like a ZIP archive but is damaged ({e})")
    expanded = sum(i.file_size for i in z.infolist())
    if expanded > MAX_EXPANDED:
        raise Refusal("too_large", f"the file expands to {expanded / 2**20:,.0f} MiB when unpacked, more than the "
                                   f"{MAX_EXPANDED >> 20} MiB Sotto unpacks (a ZIP bomb?); it was not read")
    return z


def read_zip():
    z = open_zip()
    names = set(z.namelist())
    if "word/document.xml" in names:
        return read_docx()
    if "xl/workbook.xml" in names:
        return read_xlsx()
    if "mimetype" in names:
        mime = z.read("mimetype")[:100].decode("ascii", "replace").strip()
        if mime.endswith("opendocument.spreadsheet"):
            return read_ods(z)
        if mime.endswith("opendocument.text"):
            return read_odt(z)
    raise Refusal("unsupported", "the file is a ZIP archive; attach the files inside it instead")


def read_docx():
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    d = docx.Document(PATH)
    parts, tables, paragraphs, budget = [], 0, 0, Budget()
    for block in d.element.body.iterchildren():
        tag = block.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = Paragraph(block, d).text.strip()
            if text:
                paragraphs += 1
                parts.append(budget.add(text))
        elif tag == "tbl":
            tables += 1
            t = Table(block, d)
            parts.append(budget.add(table_markdown([[c.text for c in row.cells][:MAX_COLUMNS] for row in t.rows])))
        if budget.full:
            break
    finish("docx", parts, cut=budget.full)


def sheet_result(kind, sheets_rows):
    parts, sheets, cut = [], [], False
    for name, rows, total in sheets_rows:
        parts.append(table_markdown(rows, name))
        cut = cut or len(rows) < total
        sheets.append({"name": name, "rows": total, "columns": max((len(r) for r in rows), default=0),
                       "rows_included": len(rows)})
    finish(kind, parts, cut=cut, sheets=sheets)


def read_xlsx():
    import openpyxl
    # A file object: openpyxl judges a path by its extension, and the content decided already.
    wb = openpyxl.load_workbook(open(PATH, "rb"), read_only=True, data_only=True)
    out = []
    for ws in wb.worksheets:
        rows, total = [], 0
        for row in ws.iter_rows(values_only=True):
            row = trimmed(row)
            if not row:
                continue
            total += 1
            if len(rows) < MAX_ROWS:
                rows.append(row)
        out.append((ws.title, rows, total))
    sheet_result("xlsx", out)


def read_xls():
    import xlrd
    try:
        book = xlrd.open_workbook(PATH, on_demand=True, logfile=sys.stderr)
    except xlrd.biffh.XLRDError as e:
        raise Refusal("unsupported", f"the file is an old Office document this reader does not take ({e}); "
                                     "save it as .xlsx or .docx")
    out = []
    for sh in book.sheets():
        rows = [trimmed(sh.row_values(r)) for r in range(min(sh.nrows, MAX_ROWS))]
        out.append((sh.name, rows, sh.nrows))
    sheet_result("xls", out)


ODF_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def odf_content(z):
    from lxml import etree
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(z.read("content.xml"), parser)


def read_ods(z):
    root = odf_content(z)
    out = []
    for table in root.iter(f"{{{ODF_TABLE}}}table"):
        rows, total = [], 0
        for row in table.iter(f"{{{ODF_TABLE}}}table-row"):
            repeat = min(int(row.get(f"{{{ODF_TABLE}}}number-rows-repeated", "1")), 1000)
            cells = []
            for cell in row:
                n = min(int(cell.get(f"{{{ODF_TABLE}}}number-columns-repeated", "1")), 256)
                value = " ".join("".join(p.itertext()) for p in cell.iter(f"{{{ODF_TEXT}}}p"))
                cells.extend([value] * n)
            while cells and not cells[-1]:
                cells.pop()
            if not cells:
                continue
            for _ in range(repeat):
                total += 1
                if len(rows) < MAX_ROWS:
                    rows.append(cells)
        out.append((table.get(f"{{{ODF_TABLE}}}name", "Sheet"), rows, total))
    sheet_result("ods", out)


def read_odt(z):
    root = odf_content(z)
    parts = ["".join(p.itertext()).strip() for p in root.iter(f"{{{ODF_TEXT}}}p", f"{{{ODF_TEXT}}}h")]
    finish("odt", [p for p in parts if p])


# ---- Text of every kind ----------------------------------------------------------------------------

def read_text():
    with open(PATH, "rb") as f:
        raw = f.read(ARGS["max_text_bytes"] + 1)
    cut = len(raw) > ARGS["max_text_bytes"]
    raw = raw[: ARGS["max_text_bytes"]]
    if b"\x00" in raw[:8192] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Refusal("unsupported", "the file is not text, and not a kind Sotto reads "
                                     "(PDF, Word, Excel, OpenDocument, CSV, JSON, HTML, Markdown or text)")
    text, encoding = decode_text(raw, cut)
    hint = ARGS.get("name", "").lower()
    start = text.lstrip()[:1024].lower()
    if start.startswith(("<!doctype html", "<html")) or hint.endswith((".html", ".htm")):
        from bs4 import BeautifulSoup
        soup = BeautifulSoup(text, "html.parser")
        for tag in soup(["script", "style", "noscript"]):
            tag.decompose()
        lines = [line.strip() for line in soup.get_text("\n").splitlines()]
        return finish("html", ["\n".join(line for line in lines if line)], cut=cut)
    if (start[:1] in ("{", "[") or hint.endswith(".json")) and not cut:
        try:
            json.loads(text)
            return finish("json", [text])
        except (ValueError, RecursionError):
            pass  # not JSON after all: read as text
    if hint.endswith((".csv", ".tsv")) or looks_tabular(text):
        delimiter = "\t" if hint.endswith(".tsv") or text[:4096].count("\t") > text[:4096].count(",") else ","
        kind = "tsv" if delimiter == "\t" else "csv"
        try:
            count, columns = 0, 0
            for row in csv.reader(io.StringIO(text), delimiter=delimiter):
                count += 1
                columns = max(columns, len(row)) if count <= 1000 else columns
            return finish(kind, [text], cut=cut,
                          sheets=[{"name": ARGS.get("name", kind), "rows": count, "columns": columns, "rows_included": count}])
        except csv.Error:
            pass  # not well-formed CSV: its text is still worth sending
    kind = "markdown" if hint.endswith((".md", ".markdown")) else "text"
    finish(kind, [text], cut=cut)


def looks_tabular(text):
    lines = [l for l in text[:8192].splitlines() if l.strip()][:20]
    if len(lines) < 2:
        return False
    for sep in (",", "\t"):
        counts = {l.count(sep) for l in lines[:-1]}
        if len(counts) == 1 and counts.pop() >= 1:
            return True
    return False


def main():
    try:
        start = head()
        if not start:
            raise Refusal("unreadable", "the file is empty")
        if b"%PDF-" in start[:1024]:
            read_pdf()
        elif start.startswith(b"PK\x03\x04"):
            read_zip()
        elif start.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
            read_xls()
        else:
            read_text()
    except Refusal as r:
        emit({"ok": False, "code": r.code, "reason": r.reason})
    except MemoryError:
        emit({"ok": False, "code": "limit", "reason": "reading the file needed more memory than the sandbox allows"})
    except RecursionError:
        emit({"ok": False, "code": "limit", "reason": "the file is nested too deeply to read"})
    except Exception as e:
        emit({"ok": False, "code": "unreadable", "reason": f"the file cannot be read ({type(e).__name__}: {e})"})


main()
