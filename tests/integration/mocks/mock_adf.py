"""Minimal Atlassian Document Format (ADF) rules, as the Jira mock enforces them.

    problem(doc) -> None when `doc` (parsed JSON) is acceptable, else "<json path>: <why>"

The rules are the "ADF, minimal rules" of the vendor notes: the root is exactly
{type: "doc", version: 1, content: [blocks]}; which block nodes may sit where; inline nodes
only inside paragraph/heading; text non-empty; the known marks and their attrs; `code` combines
only with `link`; lists hold only listItem (at least one); nodes and marks reject unknown keys.
Valid ADF block nodes that are not modelled in detail (media, expand, taskList, decisionList,
cards, extensions, layouts) are accepted when they are objects with known top-level keys and
a list of child objects, without deeper checks.
"""

import re

INLINE = {"text", "hardBreak", "mention", "emoji", "date", "status", "inlineCard"}
LIGHT = {"mediaSingle", "mediaGroup", "expand", "taskList", "decisionList", "blockCard",
         "embedCard", "extension", "bodiedExtension", "layoutSection"}
TOP = {"paragraph", "heading", "bulletList", "orderedList", "codeBlock", "blockquote",
       "panel", "rule", "table"} | LIGHT
IN_LIST_ITEM = {"paragraph", "bulletList", "orderedList", "codeBlock", "mediaSingle"}
IN_CELL = {"paragraph", "heading", "bulletList", "orderedList", "codeBlock", "blockquote",
           "panel", "rule", "mediaSingle", "mediaGroup", "taskList", "decisionList",
           "blockCard", "embedCard", "extension"}
NODES = {  # type -> (allowed children or None for none, at least one child?, keys)
    "paragraph": (INLINE, False, {"type", "content", "attrs", "marks"}),
    "heading": (INLINE, False, {"type", "content", "attrs", "marks"}),
    "bulletList": ({"listItem"}, True, {"type", "content", "attrs"}),
    "orderedList": ({"listItem"}, True, {"type", "content", "attrs"}),
    "listItem": (IN_LIST_ITEM, True, {"type", "content", "attrs"}),
    "codeBlock": ({"text"}, False, {"type", "content", "attrs", "marks"}),
    "blockquote": ({"paragraph", "bulletList", "orderedList", "codeBlock", "mediaSingle",
                    "mediaGroup"}, True, {"type", "content", "attrs"}),
    "panel": ({"paragraph", "heading", "bulletList", "orderedList", "codeBlock", "rule",
               "mediaGroup", "mediaSingle", "taskList", "decisionList", "blockCard"},
              True, {"type", "content", "attrs"}),
    "rule": (None, False, {"type", "attrs"}),
    "table": ({"tableRow"}, True, {"type", "content", "attrs", "marks"}),
    "tableRow": ({"tableHeader", "tableCell"}, True, {"type", "content", "attrs"}),
    "tableHeader": (IN_CELL, True, {"type", "content", "attrs"}),
    "tableCell": (IN_CELL, True, {"type", "content", "attrs"}),
    "text": (None, False, {"type", "text", "marks"}),
    "hardBreak": (None, False, {"type", "attrs"}),
    "mention": (None, False, {"type", "attrs"}),
    "emoji": (None, False, {"type", "attrs"}),
    "date": (None, False, {"type", "attrs"}),
    "status": (None, False, {"type", "attrs"}),
    "inlineCard": (None, False, {"type", "attrs"}),
}
REQUIRED_ATTRS = {"mention": "id", "emoji": "shortName", "date": "timestamp",
                  "inlineCard": "url"}
PANEL_TYPES = {"info", "note", "tip", "warning", "error", "success", "custom"}
STATUS_COLORS = {"neutral", "purple", "blue", "red", "yellow", "green"}
MARKS = {"strong", "em", "underline", "strike", "code", "link", "subsup", "textColor",
         "backgroundColor"}
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_DEPTH = 64


class _Invalid(Exception):
    pass


def problem(doc):
    try:
        _root(doc)
    except _Invalid as e:
        return str(e)
    except RecursionError:
        return "$: nested too deeply"
    return None


def _fail(path, why):
    raise _Invalid(f"{path}: {why}")


def _root(doc):
    if not isinstance(doc, dict):
        _fail("$", "the document must be an object")
    if doc.get("type") != "doc":
        _fail("$.type", 'must be "doc"')
    extra = set(doc) - {"type", "version", "content"}
    if extra:
        _fail("$", f"unknown key(s) {sorted(extra)}")
    if doc.get("version") != 1 or isinstance(doc.get("version"), bool):
        _fail("$.version", "must be 1")
    content = doc.get("content")
    if not isinstance(content, list):
        _fail("$.content", "must be a list of block nodes")
    for i, child in enumerate(content):
        _node(child, f"$.content[{i}]", TOP, "doc", 1)


def _node(node, path, allowed, parent, depth):
    if depth > MAX_DEPTH:
        _fail(path, "nested too deeply")
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        _fail(path, "a node must be an object with a string type")
    kind = node["type"]
    if kind not in allowed:
        _fail(path, f"'{kind}' is not allowed inside '{parent}'")
    if "attrs" in node and not isinstance(node["attrs"], dict):
        _fail(path + ".attrs", "must be an object")
    attrs = node.get("attrs") or {}
    if kind in LIGHT:
        extra = set(node) - {"type", "attrs", "content", "marks"}
        if extra:
            _fail(path, f"unknown key(s) on '{kind}': {sorted(extra)}")
        content = node.get("content", [])
        if not isinstance(content, list) or not all(
                isinstance(c, dict) and isinstance(c.get("type"), str) for c in content):
            _fail(path + ".content", "must be a list of nodes")
        return
    children, required, keys = NODES[kind]
    extra = set(node) - keys
    if extra:
        _fail(path, f"unknown key(s) on '{kind}': {sorted(extra)}")
    _attrs(kind, attrs, path)
    if kind == "text":
        if not isinstance(node.get("text"), str) or node["text"] == "":
            _fail(path + ".text", "a text node needs a non-empty string")
        if "marks" in node:
            _marks(node["marks"], path + ".marks", parent == "codeBlock")
        return
    if "marks" in node and not isinstance(node["marks"], list):
        _fail(path + ".marks", "must be a list")
    if children is None:
        if "content" in node:
            _fail(path + ".content", f"'{kind}' takes no content")
        return
    content = node.get("content", [])
    if not isinstance(content, list):
        _fail(path + ".content", "must be a list")
    if required and not content:
        _fail(path + ".content", f"'{kind}' needs at least one child")
    for i, child in enumerate(content):
        _node(child, f"{path}.content[{i}]", children, kind, depth + 1)


def _attrs(kind, attrs, path):
    if kind == "heading":
        level = attrs.get("level")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 6:
            _fail(path + ".attrs.level", "heading needs attrs.level 1-6")
    elif kind == "panel" and attrs.get("panelType") not in PANEL_TYPES:
        _fail(path + ".attrs.panelType", f"must be one of {sorted(PANEL_TYPES)}")
    elif kind == "codeBlock" and "language" in attrs and not isinstance(attrs["language"], str):
        _fail(path + ".attrs.language", "must be a string")
    elif kind == "status":
        if not isinstance(attrs.get("text"), str) or attrs.get("color") not in STATUS_COLORS:
            _fail(path + ".attrs", "status needs attrs.text and attrs.color")
    elif kind in REQUIRED_ATTRS:
        key = REQUIRED_ATTRS[kind]
        if not isinstance(attrs.get(key), str) or not attrs[key]:
            _fail(f"{path}.attrs.{key}", f"'{kind}' needs a non-empty attrs.{key}")


def _marks(marks, path, in_code_block):
    if not isinstance(marks, list):
        _fail(path, "must be a list")
    if in_code_block and marks:
        _fail(path, "text in a codeBlock takes no marks")
    seen = set()
    for i, mark in enumerate(marks):
        mpath = f"{path}[{i}]"
        if not isinstance(mark, dict) or mark.get("type") not in MARKS:
            _fail(mpath, "unknown mark")
        kind = mark["type"]
        if kind in seen:
            _fail(mpath, f"mark '{kind}' twice")
        seen.add(kind)
        extra = set(mark) - {"type", "attrs"}
        if extra:
            _fail(mpath, f"unknown key(s) on mark '{kind}': {sorted(extra)}")
        attrs = mark.get("attrs", {})
        if not isinstance(attrs, dict):
            _fail(mpath + ".attrs", "must be an object")
        if kind == "link" and not (isinstance(attrs.get("href"), str) and attrs["href"]):
            _fail(mpath + ".attrs.href", "link needs attrs.href")
        if kind == "subsup" and attrs.get("type") not in ("sub", "sup"):
            _fail(mpath + ".attrs.type", 'must be "sub" or "sup"')
        if kind in ("textColor", "backgroundColor") and not (
                isinstance(attrs.get("color"), str) and COLOR.fullmatch(attrs["color"])):
            _fail(mpath + ".attrs.color", "must be #rrggbb")
    if "code" in seen and seen - {"code", "link"}:
        _fail(path, "'code' combines only with 'link'")
