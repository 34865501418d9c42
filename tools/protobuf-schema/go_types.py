"""Which Go struct fields are pointers, read from the type metadata of a Go
binary built from upstream's API types (kubectl is one).

Why: upstream writes a non-pointer field to protobuf even when it is zero, but
a pointer field only when set. So a zero scalar on the wire means "unset" for
a non-pointer field (JSON omits it) and "explicitly zero" for a pointer field
(JSON keeps it: `replicas: 0`, `gracePeriodSeconds: 0`). Neither the protos
nor the OpenAPI document record pointers; Go's runtime type data does.

Layout read here (Go's internal/abi, stable since Go 1.17, 64-bit):
- a struct's fields are an array of {name *byte, typ *Type, offset uintptr};
- a name is a flags byte (bit 1: has tag), a varint length, the name, then
  a varint length and the tag;
- a Type's kind is the low five bits of the byte at offset 23; 22 is Ptr.
Only statically linked, non-PIE little-endian ELF binaries are supported,
where those pointers are plain virtual addresses.
"""
import array
import re
import struct

KIND_POINTER = 22
FIELD_SIZE = 24
TAG = re.compile(r'json:"([^",]*)[^"]*"\s+protobuf:"\w+,(\d+),[^"]*?name=(\w+)')


def _sections(data):
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    heads = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = heads[shstrndx][4]
    out = {}
    for name, kind, _flags, addr, offset, size in heads:
        end = data.index(b"\0", names_at + name)
        if kind != 8:  # SHT_NOBITS sections (.bss) have no bytes in the file
            out[data[names_at + name:end].decode()] = (addr, offset, size)
    return out


def _varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _tagged_names(rodata, base):
    """Address -> (field name, tag) of every name whose tag has protobuf:"."""
    names = {}
    for match in re.finditer(rb'protobuf:"', rodata):
        at = match.start()
        # The tag starts a little before the match; walk back to the header.
        for start in range(at - 1, max(at - 400, 0), -1):
            flags = rodata[start]
            if flags & 0xF0 or not flags & 0x02:
                continue
            try:
                length, name_at = _varint(rodata, start + 1)
                name = rodata[name_at:name_at + length]
                if not re.fullmatch(rb"[A-Za-z_]\w*", name):
                    continue
                tag_length, tag_at = _varint(rodata, name_at + length)
            except IndexError:
                continue
            if tag_at <= at < tag_at + tag_length:
                names[base + start] = rodata[tag_at:tag_at + tag_length].decode("utf-8", "replace")
                break
    return names


def struct_fields(path):
    """Lists of (proto tag, json name, proto name, is pointer), one per Go
    struct with protobuf tags; the json name is "" for an embedded struct."""
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path} is not a 64-bit little-endian ELF binary")
    sections = _sections(data)

    def file_offset(addr):
        for start, offset, size in sections.values():
            if offset and start <= addr < start + size:
                return addr - start + offset
        return None

    ro_addr, ro_offset, ro_size = sections[".rodata"]
    names = _tagged_names(data[ro_offset:ro_offset + ro_size], ro_addr)
    entries = []
    for section in (".rodata", ".noptrdata", ".data"):
        if section not in sections:
            continue
        start, offset, size = sections[section]
        words = array.array("Q", data[offset:offset + size - size % 8])
        for index in range(len(words) - 2):
            tag = names.get(words[index])
            if tag is None:
                continue
            type_at = file_offset(words[index + 1])
            if type_at is None:
                continue
            entries.append((start + index * 8, words[index + 2], tag, data[type_at + 23] & 0x1F))
    entries.sort()
    structs = []
    previous = None
    for addr, field_offset, tag, kind in entries:
        # A struct's field array is contiguous with rising offsets; a gap or
        # an offset that drops starts the next struct.
        if previous is None or addr != previous[0] + FIELD_SIZE or field_offset <= previous[1]:
            structs.append([])
        previous = (addr, field_offset)
        parsed = TAG.search(tag)
        if parsed:
            structs[-1].append((int(parsed.group(2)), parsed.group(1), parsed.group(3), kind == KIND_POINTER))
    return [fields for fields in structs if fields]
