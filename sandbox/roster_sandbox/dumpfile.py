"""Reading and writing one file of Clever's dump format: a list envelope of ``{"data": obj, "uri": ...}``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import msgspec


class _Item(msgspec.Struct):
    data: msgspec.Raw


class _Envelope(msgspec.Struct):
    data: list[_Item]


class _IdOnly(msgspec.Struct):
    id: str


def read_raw(path: Path) -> Iterator[tuple[str, msgspec.Raw]]:
    """(id, raw JSON of the object) for each record of a dump file, in file order."""
    envelope = msgspec.json.decode(Path(path).read_bytes(), type=_Envelope)
    id_decoder = msgspec.json.Decoder(_IdOnly)
    for item in envelope.data:
        yield id_decoder.decode(item.data).id, item.data


def read_objects(path: Path) -> list[dict[str, Any]]:
    """The decoded objects of a dump file (empty when the file does not exist)."""
    if not Path(path).exists():
        return []
    decoder = msgspec.json.Decoder()
    return [decoder.decode(raw) for _, raw in read_raw(path)]


def write(path: Path, collection: str, objects: Iterable[dict[str, Any]]) -> int:
    """Write objects into a dump file atomically (a reader never sees half a file); returns the count."""
    with StreamWriter(path, collection) as writer:
        writer.write_all(objects)
    return writer.count


class StreamWriter:
    """Writes a dump file one object at a time (bounded memory), then moves it into place atomically."""

    def __init__(self, path: Path, collection: str) -> None:
        self.path = Path(path)
        self.collection = collection.encode()
        self.tmp = self.path.with_name(f".{self.path.name}.tmp")
        self.count = 0
        self._encoder = msgspec.json.Encoder()
        self._out: BinaryIO | None = None

    def __enter__(self) -> StreamWriter:
        self._out = self.tmp.open("wb")
        self._out.write(
            b'{"links":[{"rel":"self","uri":"/v3.0/' + self.collection + b'?limit=10000"}],"data":['
        )
        return self

    def write_all(self, objects: Iterable[dict[str, Any]]) -> None:
        assert self._out is not None, "use StreamWriter as a context manager"
        out, encode = self._out, self._encoder.encode
        for obj in objects:
            if self.count:
                out.write(b",")
            out.write(
                b'{"data":'
                + encode(obj)
                + b',"uri":"/v3.0/'
                + self.collection
                + b"/"
                + obj["id"].encode()
                + b'"}'
            )
            self.count += 1

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._out is not None
        if exc_type is None:
            self._out.write(b"]}\n")
        self._out.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)  # never leave a half-written file behind
