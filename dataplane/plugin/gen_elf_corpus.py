#!/usr/bin/env python3
"""Regenerate the seed corpus of elf_fuzz.c (tests/fuzz/corpus/elf/).

Builds three small real plugins from the source tree (the template plugin, the wrong-ABI
fixture and the no-symbols fixture, linked -nostdlib with tiny page alignment so each
is about 2.5 KiB), then writes them out whole, truncated at telling places, and with
single header or table fields corrupted, one file per case. Run by hand from the
repository root after changing the ELF reader or the plugin macros:

    python3 dataplane/plugin/gen_elf_corpus.py tests/fuzz/corpus/elf
"""
import os
import struct
import subprocess
import sys
import tempfile

SRC = {
    "template": "plugins/template/template.c",
    "wrong_abi": "plugins/testing/wrong_abi.c",
    "no_symbols": "plugins/testing/no_symbols.c",
}

SHT_DYNSYM = 11


def build(src, out):
    cflags = subprocess.run(["pkg-config", "--cflags", "libdpdk", "msgpack"], check=True,
                            capture_output=True, text=True).stdout.split()
    subprocess.run(["cc", "-std=gnu11", "-O2", "-fPIC", "-fvisibility=hidden", "-shared", "-s",
                    "-nostdlib", "-Idataplane/include", *cflags,
                    "-Wl,-z,noseparate-code", "-Wl,-z,max-page-size=64",
                    "-Wl,-z,common-page-size=64", "-Wl,--build-id=none", "-o", out, src],
                   check=True)
    with open(out, "rb") as f:
        return bytearray(f.read())


def ehdr(img):
    """(e_phoff, e_shoff, e_phnum, e_shnum) of an Elf64 little-endian image."""
    phoff, shoff = struct.unpack_from("<QQ", img, 32)
    phnum, = struct.unpack_from("<H", img, 56)
    shnum, = struct.unpack_from("<H", img, 60)
    return phoff, shoff, phnum, shnum


def dynsym_shdr(img):
    """File offset of the .dynsym section header."""
    _, shoff, _, shnum = ehdr(img)
    for i in range(shnum):
        off = shoff + 64 * i
        if struct.unpack_from("<I", img, off + 4)[0] == SHT_DYNSYM:
            return off
    raise SystemExit("no .dynsym")


def abi_sym(img):
    """File offset of the sluice_plugin_abi entry in .dynsym."""
    sh = dynsym_shdr(img)
    sym_off, sym_size, link = struct.unpack_from("<QQI", img, sh + 24)
    _, shoff, _, _ = ehdr(img)
    str_off, = struct.unpack_from("<Q", img, shoff + 64 * link + 24)
    for s in range(sym_off, sym_off + sym_size, 24):
        name, = struct.unpack_from("<I", img, s)
        if img[str_off + name:str_off + name + 18] == b"sluice_plugin_abi\0":
            return s
    raise SystemExit("no sluice_plugin_abi")


def patched(img, off, fmt, value):
    out = bytearray(img)
    struct.pack_into(fmt, out, off, value)
    return out


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    seeds = {}
    with tempfile.TemporaryDirectory() as tmp:
        imgs = {k: build(v, os.path.join(tmp, k + ".so")) for k, v in SRC.items()}
    t = imgs["template"]
    phoff, shoff, phnum, shnum = ehdr(t)
    ds = dynsym_shdr(t)
    sym = abi_sym(t)
    for k, img in imgs.items():
        seeds[k + ".so"] = img
    for n in (0, 4, 16, 63, 64, phoff + 56 * phnum, shoff, len(t) - 1):
        seeds["template_cut%d.so" % n] = t[:n]
    seeds["elf32_class.so"] = patched(t, 4, "<B", 1)
    seeds["big_endian.so"] = patched(t, 5, "<B", 2)
    seeds["exec_type.so"] = patched(t, 16, "<H", 2)
    seeds["arm_machine.so"] = patched(t, 18, "<H", 40)
    seeds["shoff_huge.so"] = patched(t, 40, "<Q", 0xfffffffffffffff0)
    seeds["shnum_huge.so"] = patched(t, 60, "<H", 0xfffe)
    seeds["phoff_huge.so"] = patched(t, 32, "<Q", 0x7fffffffffffffff)
    seeds["phnum_xnum.so"] = patched(t, 56, "<H", 0xffff)
    seeds["dynsym_size_huge.so"] = patched(t, ds + 32, "<Q", 0xffffffffffffff00)
    seeds["dynsym_offset_huge.so"] = patched(t, ds + 24, "<Q", 0xffffffffffffff00)
    seeds["dynsym_link_bad.so"] = patched(t, ds + 40, "<I", 0xffff)
    seeds["dynsym_entsize_0.so"] = patched(t, ds + 56, "<Q", 0)
    seeds["sym_name_huge.so"] = patched(t, sym, "<I", 0xffffffff)
    seeds["sym_value_far.so"] = patched(t, sym + 8, "<Q", 0xfffffffffffffffc)
    seeds["sym_undefined.so"] = patched(t, sym + 6, "<H", 0)
    seeds["sym_size_4.so"] = patched(t, sym + 16, "<Q", 4)
    # Every PT_LOAD's file size zeroed: the symbol then has no bytes in the file.
    nofile = bytearray(t)
    for i in range(phnum):
        if struct.unpack_from("<I", nofile, phoff + 56 * i)[0] == 1:
            struct.pack_into("<Q", nofile, phoff + 56 * i + 32, 0)
    seeds["load_filesz_0.so"] = nofile
    for name, data in seeds.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), outdir))


if __name__ == "__main__":
    main()
