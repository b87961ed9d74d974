/*
 * Reading a plugin's ABI words straight out of its ELF image, without loading it. The
 * loader (registry.c) calls this on the bytes of a candidate plugin before dlopen, so a
 * plugin built for another ABI major runs none of its code (no constructors, no
 * relocations). The image is untrusted: every offset and size in it is checked against
 * the image length, and a malformed image is an error, never a crash (elf_fuzz.c).
 * Control path only; owns nothing.
 */
#ifndef SL_PLUGIN_ELF_H
#define SL_PLUGIN_ELF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Find the exported object SL_PLUGIN_ABI_SYMBOL in the .dynsym of a 64-bit shared object
 * for this machine and read its two words (major, minor) from the PT_LOAD segment that
 * holds it. Returns 0 with abi filled; -ENOEXEC when the image is not such an ELF file or
 * is malformed; -ENOENT when it is one but does not define the symbol (not a plugin).
 * On error, err gets one line saying why (without the file name).
 */
int sl_elf_plugin_abi(const uint8_t *img, size_t len, uint32_t abi[2], char *err, size_t err_len);

/** Format a one-line reason into err (when given) and return rc: the loader's error idiom. */
int sl_plugin_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
