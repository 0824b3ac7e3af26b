#!/usr/bin/env python3
"""Validate an Atlassian Document Format (ADF) document.

    adf_validate.py [FILE]        read FILE (or stdin when FILE is omitted or "-")
    adf_validate.py --self-test   run the built-in good/bad examples

Exit 0 when the document is valid ADF, 1 with one line on stderr naming the
JSON path of the first problem (e.g. `$.content[3].content[0].text: empty
text node`), 2 for usage errors. Standard library only.

What is checked is the structure Jira Cloud enforces for rich-text fields
(see the Jira ADF rules in the vendor notes and @atlaskit/adf-schema's
full.json): the doc root, which nodes may contain which, required attrs and
their values, text nodes and marks. Nodes and marks reject unknown top-level
keys; unknown keys inside `attrs` are tolerated (the schema has many optional
ones: localId, colwidth, ...). Valid ADF nodes that this validator does not
model (media, expand, taskList, extensions...) are rejected as unsupported
rather than passed unchecked.
"""

import json
import re
import sys

# --- the model ---------------------------------------------------------------

INLINE = {"text", "hardBreak", "mention", "emoji", "date", "status",
          "inlineCard"}
LIST_CONTENT = {"paragraph", "bulletList", "orderedList", "codeBlock"}
TOP_BLOCKS = {"paragraph", "heading", "bulletList", "orderedList", "codeBlock",
              "blockquote", "panel", "rule", "table"}

# node type -> (allowed child types or None for "no content",
#               content required and non-empty?, allowed top-level keys)
NODES = {
    "paragraph":   (INLINE, False, {"type", "content", "attrs", "marks"}),
    "heading":     (INLINE, False, {"type", "content", "attrs", "marks"}),
    "bulletList":  ({"listItem"}, True, {"type", "content", "attrs"}),
    "orderedList": ({"listItem"}, True, {"type", "content", "attrs"}),
    "listItem":    (LIST_CONTENT, True, {"type", "content", "attrs"}),
    "codeBlock":   ({"text"}, False, {"type", "content", "attrs", "marks"}),
    "blockquote":  ({"paragraph", "bulletList", "orderedList", "codeBlock"},
                    True, {"type", "content", "attrs"}),
    "panel":       ({"paragraph", "heading", "bulletList", "orderedList",
                     "codeBlock", "rule"}, True, {"type", "content", "attrs"}),
    "rule":        (None, False, {"type"}),
    "table":       ({"tableRow"}, True, {"type", "content", "attrs", "marks"}),
    "tableRow":    ({"tableHeader", "tableCell"}, True,
                    {"type", "content", "attrs"}),
    "tableHeader": ({"paragraph", "heading", "bulletList", "orderedList",
                     "codeBlock", "blockquote", "panel", "rule"}, True,
                    {"type", "content", "attrs"}),
    "tableCell":   ({"paragraph", "heading", "bulletList", "orderedList",
                     "codeBlock", "blockquote", "panel", "rule"}, True,
                    {"type", "content", "attrs"}),
    "text":        (None, False, {"type", "text", "marks"}),
    "hardBreak":   (None, False, {"type", "attrs"}),
    "mention":     (None, False, {"type", "attrs"}),
    "emoji":       (None, False, {"type", "attrs"}),
    "date":        (None, False, {"type", "attrs"}),
    "status":      (None, False, {"type", "attrs"}),
    "inlineCard":  (None, False, {"type", "attrs"}),
}

# Valid ADF, but not modelled here: reported as unsupported, not unknown.
UNMODELLED = {"mediaSingle", "mediaGroup", "media", "mediaInline", "expand",
              "nestedExpand", "taskList", "taskItem", "decisionList",
              "decisionItem", "blockCard", "embedCard", "extension",
              "bodiedExtension", "inlineExtension", "layoutSection",
              "layoutColumn", "placeholder"}

PANEL_TYPES = {"info", "note", "tip", "warning", "error", "success", "custom"}
STATUS_COLORS = {"neutral", "purple", "blue", "red", "yellow", "green"}
MARKS = {"strong", "em", "underline", "strike", "code", "link", "subsup",
         "textColor", "backgroundColor"}
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


class Invalid(Exception):
    def __init__(self, path, message):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _nonempty_str(v):
    return isinstance(v, str) and v != ""


# --- the checks --------------------------------------------------------------

def validate(doc):
    """Raise Invalid for the first problem found in `doc` (parsed JSON)."""
    path = "$"
    if not isinstance(doc, dict):
        raise Invalid(path, f"the document must be an object, got "
                            f"{_kind(doc)}")
    if doc.get("type") != "doc":
        raise Invalid(path + ".type", f'must be "doc", got '
                                      f'{json.dumps(doc.get("type"))}')
    extra = set(doc) - {"type", "version", "content"}
    if extra:
        raise Invalid(path, f"unknown key(s) on doc: {_names(extra)}")
    if "version" not in doc:
        raise Invalid(path, "missing version (must be 1)")
    if not _is_int(doc["version"]) or doc["version"] != 1:
        raise Invalid(path + ".version",
                      f"must be 1, got {json.dumps(doc['version'])}")
    if "content" not in doc:
        raise Invalid(path, "missing content (a list of block nodes)")
    content = doc["content"]
    if not isinstance(content, list):
        raise Invalid(path + ".content", f"must be a list, got "
                                         f"{_kind(content)}")
    for i, child in enumerate(content):
        _node(child, f"{path}.content[{i}]", TOP_BLOCKS, "doc")


def _kind(v):
    return {dict: "an object", list: "a list", str: "a string",
            bool: "a boolean", type(None): "null"}.get(
                type(v), "a number" if isinstance(v, (int, float)) else
                type(v).__name__)


def _names(keys):
    return ", ".join(sorted(map(str, keys)))


def _node(node, path, allowed, parent):
    if not isinstance(node, dict):
        raise Invalid(path, f"a node must be an object, got {_kind(node)}")
    ntype = node.get("type")
    if not isinstance(ntype, str):
        raise Invalid(path, "node without a string 'type'")
    if ntype not in NODES:
        if ntype in UNMODELLED:
            raise Invalid(path, f"node type '{ntype}' is ADF but not "
                                f"supported by this validator")
        raise Invalid(path, f"unknown node type '{ntype}'")
    if ntype not in allowed:
        raise Invalid(path, f"'{ntype}' is not allowed inside '{parent}' "
                            f"(allowed: {_names(allowed)})")
    children, required, keys = NODES[ntype]
    extra = set(node) - keys
    if extra:
        raise Invalid(path, f"unknown key(s) on '{ntype}': {_names(extra)}")
    attrs = node.get("attrs")
    if "attrs" in node and not isinstance(attrs, dict):
        raise Invalid(path + ".attrs", f"must be an object, got "
                                       f"{_kind(attrs)}")
    _attrs(ntype, attrs or {}, "attrs" in node, path + ".attrs", path)

    if ntype == "text":
        if "text" not in node:
            raise Invalid(path, "text node without 'text'")
        if not isinstance(node["text"], str):
            raise Invalid(path + ".text", f"must be a string, got "
                                          f"{_kind(node['text'])}")
        if node["text"] == "":
            raise Invalid(path + ".text", "empty text node (ADF requires "
                                          "at least one character)")
        if "marks" in node:
            _marks(node["marks"], path + ".marks",
                   code_block=(parent == "codeBlock"))
        return

    if "marks" in node:
        marks = node["marks"]
        if not isinstance(marks, list):
            raise Invalid(path + ".marks", "must be a list")
        # Block marks (alignment, indentation, breakout...) are not modelled.
        for i, mark in enumerate(marks):
            if not isinstance(mark, dict) or not isinstance(
                    mark.get("type"), str):
                raise Invalid(f"{path}.marks[{i}]", "a mark must be an object "
                                                    "with a string 'type'")
            if mark["type"] in MARKS:
                raise Invalid(f"{path}.marks[{i}]",
                              f"inline mark '{mark['type']}' on a "
                              f"'{ntype}' node (marks go on text nodes)")

    if children is None:
        if "content" in node:
            raise Invalid(path + ".content", f"'{ntype}' takes no content")
        return
    if "content" not in node:
        if required:
            raise Invalid(path, f"'{ntype}' requires content "
                                f"(at least one of: {_names(children)})")
        return
    content = node["content"]
    if not isinstance(content, list):
        raise Invalid(path + ".content", f"must be a list, got "
                                         f"{_kind(content)}")
    if required and not content:
        raise Invalid(path + ".content", f"'{ntype}' requires at least one "
                                         f"child ({_names(children)})")
    for i, child in enumerate(content):
        cpath = f"{path}.content[{i}]"
        _node(child, cpath, children, ntype)
        if ntype == "listItem" and i == 0 and child["type"] in (
                "bulletList", "orderedList"):
            raise Invalid(cpath, "a listItem must start with a paragraph or "
                                 "codeBlock, not a nested list")


def _attrs(ntype, attrs, present, apath, path):
    def need(key, what):
        if key not in attrs:
            where = apath if present else path
            raise Invalid(where, f"'{ntype}' requires attrs.{key} ({what})")
        return attrs[key]

    if ntype == "heading":
        level = need("level", "1-6")
        if not _is_int(level) or not 1 <= level <= 6:
            raise Invalid(apath + ".level", f"must be an integer 1-6, got "
                                            f"{json.dumps(level)}")
    elif ntype == "panel":
        ptype = need("panelType", _names(PANEL_TYPES))
        if ptype not in PANEL_TYPES:
            raise Invalid(apath + ".panelType",
                          f"must be one of {_names(PANEL_TYPES)}, got "
                          f"{json.dumps(ptype)}")
    elif ntype == "codeBlock":
        if "language" in attrs and not isinstance(attrs["language"], str):
            raise Invalid(apath + ".language", "must be a string")
    elif ntype == "orderedList":
        if "order" in attrs and (not isinstance(attrs["order"], (int, float))
                                 or isinstance(attrs["order"], bool)
                                 or attrs["order"] < 0):
            raise Invalid(apath + ".order", "must be a number >= 0")
    elif ntype == "table":
        if "isNumberColumnEnabled" in attrs and not isinstance(
                attrs["isNumberColumnEnabled"], bool):
            raise Invalid(apath + ".isNumberColumnEnabled",
                          "must be a boolean")
    elif ntype in ("tableCell", "tableHeader"):
        for key in ("colspan", "rowspan"):
            if key in attrs and (not _is_int(attrs[key]) or attrs[key] < 1):
                raise Invalid(f"{apath}.{key}", "must be an integer >= 1")
    elif ntype == "mention":
        if not _nonempty_str(need("id", "the user's account id")):
            raise Invalid(apath + ".id", "must be a non-empty string")
    elif ntype == "emoji":
        if not _nonempty_str(need("shortName", "e.g. ':warning:'")):
            raise Invalid(apath + ".shortName", "must be a non-empty string")
    elif ntype == "date":
        if not _nonempty_str(need("timestamp", "milliseconds since epoch")):
            raise Invalid(apath + ".timestamp", "must be a non-empty string")
    elif ntype == "status":
        if not _nonempty_str(need("text", "the lozenge text")):
            raise Invalid(apath + ".text", "must be a non-empty string")
        color = need("color", _names(STATUS_COLORS))
        if color not in STATUS_COLORS:
            raise Invalid(apath + ".color",
                          f"must be one of {_names(STATUS_COLORS)}, got "
                          f"{json.dumps(color)}")
    elif ntype == "inlineCard":
        if "url" not in attrs and "data" not in attrs:
            raise Invalid(apath if present else path,
                          "'inlineCard' requires attrs.url or attrs.data")
    elif ntype == "hardBreak":
        if "text" in attrs and attrs["text"] != "\n":
            raise Invalid(apath + ".text", 'must be "\\n"')


def _marks(marks, path, code_block):
    if not isinstance(marks, list):
        raise Invalid(path, f"must be a list, got {_kind(marks)}")
    if code_block and marks:
        raise Invalid(path, "text inside a codeBlock cannot have marks")
    seen = set()
    for i, mark in enumerate(marks):
        mpath = f"{path}[{i}]"
        if not isinstance(mark, dict):
            raise Invalid(mpath, f"a mark must be an object, got "
                                 f"{_kind(mark)}")
        mtype = mark.get("type")
        if mtype not in MARKS:
            raise Invalid(mpath, f"unknown mark type {json.dumps(mtype)}")
        if mtype in seen:
            raise Invalid(mpath, f"mark '{mtype}' appears twice")
        seen.add(mtype)
        extra = set(mark) - {"type", "attrs"}
        if extra:
            raise Invalid(mpath, f"unknown key(s) on mark '{mtype}': "
                                 f"{_names(extra)}")
        attrs = mark.get("attrs", {})
        if not isinstance(attrs, dict):
            raise Invalid(mpath + ".attrs", "must be an object")
        if mtype == "link":
            if not _nonempty_str(attrs.get("href")):
                raise Invalid(mpath + (".attrs.href" if "href" in attrs
                                       else ".attrs"),
                              "link mark requires a non-empty attrs.href")
        elif mtype == "subsup":
            if attrs.get("type") not in ("sub", "sup"):
                raise Invalid(mpath + ".attrs.type", 'must be "sub" or "sup"')
        elif mtype in ("textColor", "backgroundColor"):
            if not isinstance(attrs.get("color"), str) or \
                    not COLOR_RE.match(attrs["color"]):
                raise Invalid(mpath + ".attrs.color", "must be #rrggbb")
        elif "attrs" in mark and attrs:
            raise Invalid(mpath + ".attrs", f"mark '{mtype}' takes no attrs")
    if "code" in seen and seen - {"code", "link"}:
        raise Invalid(path, "the 'code' mark combines only with 'link' (got "
                            f"{_names(seen - {'code'})})")


# --- the command -------------------------------------------------------------

class _NotJSON(ValueError):
    pass


def _no_constants(name):
    raise _NotJSON(f"{name} is not valid JSON")


def _no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise _NotJSON(f"duplicate key {json.dumps(key)} in an object")
        obj[key] = value
    return obj


def check_text(raw, name):
    """Parse and validate; return None when valid, else the error line.
    Stricter than json.loads: NaN/Infinity and duplicate keys are errors."""
    try:
        doc = json.loads(raw, parse_constant=_no_constants,
                         object_pairs_hook=_no_duplicates)
    except (json.JSONDecodeError, _NotJSON) as e:
        return f"{name}: not valid JSON: {e}"
    try:
        validate(doc)
    except Invalid as e:
        return f"{name}: invalid ADF at {e}"
    return None


def _p(*inline):
    return {"type": "paragraph", "content": list(inline)}


def _t(text, *marks):
    node = {"type": "text", "text": text}
    if marks:
        node["marks"] = [m if isinstance(m, dict) else {"type": m}
                         for m in marks]
    return node


def _doc(*blocks):
    return {"type": "doc", "version": 1, "content": list(blocks)}


SELF_TEST_GOOD = [
    ("empty doc", _doc()),
    ("vendor-notes example", _doc(_p(_t("Disk full on "),
                                     _t("db01", "strong")))),
    ("empty paragraphs", _doc({"type": "paragraph"},
                              {"type": "paragraph", "content": []})),
    ("everything modelled", _doc(
        {"type": "heading", "attrs": {"level": 2}, "content": [_t("RCA")]},
        {"type": "panel", "attrs": {"panelType": "warning"},
         "content": [_p(_t("Sev "), _t("HIGH", "strong", "em"))]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [
                _p(_t("a", "code", {"type": "link",
                                    "attrs": {"href": "https://x.test"}})),
                {"type": "orderedList", "attrs": {"order": 3}, "content": [
                    {"type": "listItem", "content": [_p(_t("b"))]}]}]}]},
        {"type": "codeBlock", "attrs": {"language": "sql"},
         "content": [_t("SELECT 1;\n")]},
        {"type": "codeBlock"},
        {"type": "blockquote", "content": [_p(_t("quoted"))]},
        {"type": "rule"},
        {"type": "table", "attrs": {"isNumberColumnEnabled": False},
         "content": [
             {"type": "tableRow", "content": [
                 {"type": "tableHeader", "content": [_p(_t("Time"))]},
                 {"type": "tableHeader", "attrs": {"colspan": 1},
                  "content": [_p()]}]},
             {"type": "tableRow", "content": [
                 {"type": "tableCell", "content": [_p(_t("08:42"))]},
                 {"type": "tableCell", "content": [
                     _p(_t("x"), {"type": "hardBreak"},
                        {"type": "mention", "attrs": {"id": "5b10ac8d82"}},
                        {"type": "emoji", "attrs": {"shortName": ":fire:"}},
                        {"type": "status", "attrs": {"text": "DONE",
                                                     "color": "green"}},
                        {"type": "date", "attrs": {"timestamp": "1715675400000"}},
                        _t("Zürich \"<script>\"", "underline",
                           {"type": "textColor",
                            "attrs": {"color": "#ff5630"}}))]}]}]})),
]

SELF_TEST_BAD = [
    ("not an object", [], "$"),
    ("wrong root type", {"type": "paragraph", "version": 1, "content": []},
     "$.type"),
    ("version 2", {"type": "doc", "version": 2, "content": []}, "$.version"),
    ("missing content", {"type": "doc", "version": 1}, "$"),
    ("extra root key", dict(_doc(), title="x"), "$"),
    ("text directly in doc", _doc(_t("hi")), "$.content[0]"),
    ("empty text", _doc(_p(_t("a"), _t(""))), "$.content[0].content[1].text"),
    ("unknown node", _doc({"type": "para"}), "$.content[0]"),
    ("unsupported node", _doc({"type": "expand", "content": []}),
     "$.content[0]"),
    ("heading level 7", _doc({"type": "heading", "attrs": {"level": 7}}),
     "$.content[0].attrs.level"),
    ("heading without level", _doc({"type": "heading", "content": []}),
     "$.content[0]"),
    ("empty bulletList", _doc({"type": "bulletList", "content": []}),
     "$.content[0].content"),
    ("paragraph in bulletList", _doc({"type": "bulletList",
                                      "content": [_p(_t("x"))]}),
     "$.content[0].content[0]"),
    ("marked code text", _doc({"type": "codeBlock",
                               "content": [_t("x", "strong")]}),
     "$.content[0].content[0].marks"),
    ("bad panelType", _doc({"type": "panel", "attrs": {"panelType": "danger"},
                            "content": [_p()]}),
     "$.content[0].attrs.panelType"),
    ("link without href", _doc(_p(_t("x", "link"))),
     "$.content[0].content[0].marks[0].attrs"),
    ("code with strong", _doc(_p(_t("x", "code", "strong"))),
     "$.content[0].content[0].marks"),
    ("cell without content", _doc({"type": "table", "content": [
        {"type": "tableRow", "content": [{"type": "tableCell"}]}]}),
     "$.content[0].content[0].content[0]"),
    ("row outside table", _doc({"type": "tableRow", "content": []}),
     "$.content[0]"),
    ("unknown key on text", _doc(_p(dict(_t("x"), bold=True))),
     "$.content[0].content[0]"),
    ("text is a number", _doc(_p({"type": "text", "text": 5})),
     "$.content[0].content[0].text"),
    ("empty status text", _doc(_p({"type": "status",
                                   "attrs": {"text": "", "color": "blue"}})),
     "$.content[0].content[0].attrs.text"),
    ("rule with content", _doc({"type": "rule", "content": []}),
     "$.content[0]"),
    ("list item starting with a list", _doc({"type": "bulletList", "content": [
        {"type": "listItem", "content": [
            {"type": "bulletList", "content": [
                {"type": "listItem", "content": [_p()]}]}]}]}),
     "$.content[0].content[0].content[0]"),
]


def self_test():
    failures = 0
    for name, doc in SELF_TEST_GOOD:
        try:
            validate(doc)
            print(f"ok   good: {name}")
        except Invalid as e:
            failures += 1
            print(f"FAIL good: {name}: rejected: {e}")
    for name, doc, want_path in SELF_TEST_BAD:
        try:
            validate(doc)
            failures += 1
            print(f"FAIL bad:  {name}: accepted")
        except Invalid as e:
            if e.path != want_path:
                failures += 1
                print(f"FAIL bad:  {name}: reported at {e.path}, expected "
                      f"{want_path} ({e.message})")
            else:
                print(f"ok   bad:  {name}: {e}")
    # Raw-text cases go through the same entry point as files.
    for name, raw in (("not JSON", '{"type": "doc",'),
                      ("trailing comma", '{"type":"doc","version":1,'
                                         '"content":[{"type":"rule"},]}'),
                      ("duplicate key", '{"type":"doc","version":1,'
                                        '"content":[],"content":[]}'),
                      ("NaN", '{"type":"doc","version":1,"content":[{"type":'
                              '"orderedList","attrs":{"order":NaN}}]}')):
        if check_text(raw, "<self-test>") is None:
            failures += 1
            print(f"FAIL bad:  {name}: accepted")
        else:
            print(f"ok   bad:  {name}: rejected as invalid JSON")
    total = len(SELF_TEST_GOOD) + len(SELF_TEST_BAD) + 4
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) > 1 or (argv and argv[0].startswith("-") and argv[0] != "-"):
        sys.stderr.write("usage: adf_validate.py [FILE|-] | --self-test\n")
        return 2
    if not argv or argv[0] == "-":
        name, raw = "<stdin>", sys.stdin.buffer.read()
    else:
        name = argv[0]
        try:
            with open(name, "rb") as f:
                raw = f.read()
        except OSError as e:
            sys.stderr.write(f"{name}: {e.strerror}\n")
            return 2
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        sys.stderr.write(f"{name}: not UTF-8: {e}\n")
        return 1
    error = check_text(text, name)
    if error:
        sys.stderr.write(error + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
