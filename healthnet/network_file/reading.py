"""Reading a network file, YAML or JSON, into mappings and lists that remember the line each
value came from, so that validation can say where a problem is."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from healthnet.network_file.spec import NetworkFileInvalid, Problem


class MarkedMapping(dict):
    """A mapping read from the file that remembers its line and the line of each key."""

    def __init__(self, line: int | None) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}
        self.duplicate_keys: list[tuple[int, Any]] = []

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class MarkedSequence(list):
    def __init__(self, line: int | None) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int | None] = []

    def line_of(self, index: int) -> int | None:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class _MarkedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, building mappings and lists that carry their source lines."""


def _construct_mapping(loader: _MarkedLoader, node: yaml.MappingNode):
    mapping = MarkedMapping(node.start_mark.line + 1)
    yield mapping
    seen: set[Any] = set()
    for key_node, _value_node in node.value:  # before merges (<<) are flattened in
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            key = loader.construct_object(key_node)
            if key in seen:
                mapping.duplicate_keys.append((key_node.start_mark.line + 1, key))
            seen.add(key)
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark
            ) from None
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: _MarkedLoader, node: yaml.SequenceNode):
    sequence = MarkedSequence(node.start_mark.line + 1)
    yield sequence
    for child in node.value:
        sequence.append(loader.construct_object(child, deep=True))
        sequence.item_lines.append(child.start_mark.line + 1)


def _construct_timestamp(loader: _MarkedLoader, node: yaml.ScalarNode):
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:  # 2024-02-30: keep the text, validation reports it with its line
        return loader.construct_scalar(node)


_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_MarkedLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _load_yaml(text: str) -> Any:
    loader = _MarkedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _without_lines(value: Any) -> Any:
    """Plain JSON values as marked mappings and lists without line numbers (the JSON fallback)."""
    if isinstance(value, dict):
        mapping = MarkedMapping(None)
        for key, item in value.items():
            mapping[key] = _without_lines(item)
        return mapping
    if isinstance(value, list):
        sequence = MarkedSequence(None)
        sequence.extend(_without_lines(item) for item in value)
        return sequence
    return value


def read_document(path: Path, source: str) -> tuple[Any, str]:
    def refuse(message: str, line: int | None = None) -> NetworkFileInvalid:
        return NetworkFileInvalid(source, [Problem(line, "", message)])

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise refuse(f"cannot read the file: {exc.strerror} (无法读取文件)") from None
    sha256 = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refuse("the file is not UTF-8 text (文件不是UTF-8编码)") from None
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            plain = json.loads(text)
        except json.JSONDecodeError as exc:
            raise refuse(
                f"malformed JSON: {exc.msg} at column {exc.colno} (JSON格式错误)", exc.lineno
            ) from None
        # JSON is (nearly) YAML: reading it again this way gives line numbers. A raw tab in valid
        # JSON can only be whitespace between tokens, which YAML wants as spaces.
        try:
            return _load_yaml(text.replace("\t", " ")), sha256
        except yaml.YAMLError:
            return _without_lines(plain), sha256
    if suffix not in {".yaml", ".yml"}:
        raise refuse(
            f"unsupported file type '{suffix}': use .yaml, .yml or .json (不支持的文件类型)"
        )
    try:
        return _load_yaml(text), sha256
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise refuse(
            f"malformed YAML: {detail} (YAML格式错误)", mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as exc:
        raise refuse(f"malformed YAML: {exc} (YAML格式错误)") from None
