/*
 * The ELF reader behind the plugin loader's ABI check (see elf.h). It reads only what it
 * needs: the file header, the section headers (to find .dynsym and its string table) and
 * the program headers (to map the symbol's address to file bytes the way the dynamic
 * loader would map them). Every structure is copied out with memcpy, so the image needs
 * no alignment, and every offset is checked against the image length before use.
 * Called by registry.c on the control thread and by elf_fuzz.c; owns nothing.
 */
#include "elf.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sluice/stage.h>

/* The machine this runtime was built for: a plugin must have been built for it too. */
#if defined(__x86_64__)
#define ELF_HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define ELF_HOST_MACHINE EM_AARCH64
#elif defined(__powerpc64__)
#define ELF_HOST_MACHINE EM_PPC64
#elif defined(__riscv) && __riscv_xlen == 64
#define ELF_HOST_MACHINE EM_RISCV
#elif defined(__s390x__)
#define ELF_HOST_MACHINE EM_S390
#else
#error "unknown machine: add its EM_ value for the plugin ABI check"
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ELF_HOST_DATA ELFDATA2LSB
#else
#define ELF_HOST_DATA ELFDATA2MSB
#endif

int sl_plugin_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && err_len) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* True when [off, off + size) lies inside an image of len bytes (no overflow). */
static bool elf_in_image(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

static void elf_shdr(const uint8_t *img, const Elf64_Ehdr *eh, uint32_t i, Elf64_Shdr *sh)
{
	memcpy(sh, img + eh->e_shoff + (uint64_t)i * sizeof(*sh), sizeof(*sh));
}

/* Find the defined symbol SL_PLUGIN_ABI_SYMBOL in .dynsym. */
static int elf_find_abi_symbol(const uint8_t *img, size_t len, const Elf64_Ehdr *eh, Elf64_Sym *out,
			       char *err, size_t err_len)
{
	static const char want[] = SL_PLUGIN_ABI_SYMBOL;
	Elf64_Shdr dynsym, strtab;
	uint64_t n_syms;
	uint32_t i;

	for (i = 0; i < eh->e_shnum; i++) {
		elf_shdr(img, eh, i, &dynsym);
		if (dynsym.sh_type == SHT_DYNSYM)
			break;
	}
	if (i == eh->e_shnum)
		return sl_plugin_fail(err, err_len, -ENOENT,
				      "not a Sluice plugin: no dynamic symbol table");
	if (dynsym.sh_entsize != sizeof(Elf64_Sym))
		return sl_plugin_fail(err, err_len, -ENOEXEC,
				      "malformed ELF: .dynsym entry size %llu, expected %zu",
				      (unsigned long long)dynsym.sh_entsize, sizeof(Elf64_Sym));
	if (!elf_in_image(len, dynsym.sh_offset, dynsym.sh_size))
		return sl_plugin_fail(err, err_len, -ENOEXEC,
				      "malformed ELF: .dynsym beyond end of file");
	if (dynsym.sh_link == 0 || dynsym.sh_link >= eh->e_shnum)
		return sl_plugin_fail(err, err_len, -ENOEXEC,
				      "malformed ELF: .dynsym names string table %u of %u",
				      dynsym.sh_link, eh->e_shnum);
	elf_shdr(img, eh, dynsym.sh_link, &strtab);
	if (strtab.sh_type != SHT_STRTAB || !elf_in_image(len, strtab.sh_offset, strtab.sh_size))
		return sl_plugin_fail(
			err, err_len, -ENOEXEC,
			"malformed ELF: .dynsym string table is invalid or beyond end of file");

	n_syms = dynsym.sh_size / sizeof(Elf64_Sym);
	/* Entry 0 is the reserved null symbol. */
	for (uint64_t s = 1; s < n_syms; s++) {
		Elf64_Sym sym;

		memcpy(&sym, img + dynsym.sh_offset + s * sizeof(sym), sizeof(sym));
		if (sym.st_name >= strtab.sh_size)
			return sl_plugin_fail(err, err_len, -ENOEXEC,
					      "malformed ELF: name of dynamic symbol %llu beyond "
					      "its string table",
					      (unsigned long long)s);
		/* The name must end inside the table: compare including the terminating NUL. */
		if (strtab.sh_size - sym.st_name < sizeof(want) ||
		    memcmp(img + strtab.sh_offset + sym.st_name, want, sizeof(want)) != 0)
			continue;
		/* An undefined entry is a reference to the symbol, not a definition. */
		if (sym.st_shndx == SHN_UNDEF)
			continue;
		*out = sym;
		return 0;
	}
	return sl_plugin_fail(err, err_len, -ENOENT, "not a Sluice plugin: no %s symbol",
			      SL_PLUGIN_ABI_SYMBOL);
}

/* Read 8 bytes at virtual address vaddr through the PT_LOAD segment that maps them. */
static int elf_read_vaddr(const uint8_t *img, size_t len, const Elf64_Ehdr *eh, uint64_t vaddr,
			  void *dst, char *err, size_t err_len)
{
	const uint64_t want = 2 * sizeof(uint32_t);

	for (uint32_t i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t rel, off;

		memcpy(&ph, img + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || vaddr < ph.p_vaddr)
			continue;
		rel = vaddr - ph.p_vaddr;
		if (rel >= ph.p_memsz || ph.p_memsz - rel < want)
			continue;
		if (rel >= ph.p_filesz || ph.p_filesz - rel < want)
			return sl_plugin_fail(err, err_len, -ENOEXEC,
					      "malformed ELF: %s has no bytes in the file",
					      SL_PLUGIN_ABI_SYMBOL);
		if (rel > UINT64_MAX - ph.p_offset)
			return sl_plugin_fail(err, err_len, -ENOEXEC,
					      "malformed ELF: segment offset overflows");
		off = ph.p_offset + rel;
		if (!elf_in_image(len, off, want))
			return sl_plugin_fail(
				err, err_len, -ENOEXEC,
				"malformed ELF: %s at file offset %llu beyond end of file",
				SL_PLUGIN_ABI_SYMBOL, (unsigned long long)off);
		memcpy(dst, img + off, want);
		return 0;
	}
	return sl_plugin_fail(err, err_len, -ENOEXEC,
			      "malformed ELF: %s at address 0x%llx is in no loadable segment",
			      SL_PLUGIN_ABI_SYMBOL, (unsigned long long)vaddr);
}

int sl_elf_plugin_abi(const uint8_t *img, size_t len, uint32_t abi[2], char *err, size_t err_len)
{
	Elf64_Ehdr eh;
	Elf64_Sym sym = { 0 };
	int rc;

	if (len < SELFMAG || memcmp(img, ELFMAG, SELFMAG) != 0)
		return sl_plugin_fail(err, err_len, -ENOEXEC, "not an ELF file");
	if (len < sizeof(eh))
		return sl_plugin_fail(err, err_len, -ENOEXEC, "truncated ELF header (%zu bytes)",
				      len);
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return sl_plugin_fail(err, err_len, -ENOEXEC, "not a 64-bit ELF file (class %u)",
				      eh.e_ident[EI_CLASS]);
	if (eh.e_ident[EI_DATA] != ELF_HOST_DATA)
		return sl_plugin_fail(err, err_len, -ENOEXEC,
				      "ELF byte order %u is not this machine's",
				      eh.e_ident[EI_DATA]);
	if (eh.e_machine != ELF_HOST_MACHINE)
		return sl_plugin_fail(err, err_len, -ENOEXEC,
				      "built for ELF machine %u, this runtime runs on machine %u",
				      eh.e_machine, ELF_HOST_MACHINE);
	if (eh.e_type != ET_DYN)
		return sl_plugin_fail(err, err_len, -ENOEXEC, "not a shared object (ELF type %u)",
				      eh.e_type);
	if (eh.e_shoff == 0 || eh.e_shnum == 0)
		return sl_plugin_fail(err, err_len, -ENOEXEC, "malformed ELF: no section headers");
	if (eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !elf_in_image(len, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)))
		return sl_plugin_fail(err, err_len, -ENOEXEC,
				      "malformed ELF: section headers (%u of %u bytes at %llu) "
				      "beyond end of file",
				      eh.e_shnum, eh.e_shentsize, (unsigned long long)eh.e_shoff);
	if (eh.e_phoff == 0 || eh.e_phnum == 0 || eh.e_phnum == PN_XNUM)
		return sl_plugin_fail(err, err_len, -ENOEXEC, "malformed ELF: no program headers");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    !elf_in_image(len, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr)))
		return sl_plugin_fail(err, err_len, -ENOEXEC,
				      "malformed ELF: program headers (%u of %u bytes at %llu) "
				      "beyond end of file",
				      eh.e_phnum, eh.e_phentsize, (unsigned long long)eh.e_phoff);

	rc = elf_find_abi_symbol(img, len, &eh, &sym, err, err_len);
	if (rc < 0)
		return rc;
	/* At least 8 bytes: AddressSanitizer pads instrumented globals with a redzone. */
	if (ELF64_ST_TYPE(sym.st_info) != STT_OBJECT || sym.st_size < 2 * sizeof(uint32_t))
		return sl_plugin_fail(
			err, err_len, -ENOEXEC,
			"%s is not an object of at least 8 bytes (type %u, %llu bytes)",
			SL_PLUGIN_ABI_SYMBOL, ELF64_ST_TYPE(sym.st_info),
			(unsigned long long)sym.st_size);
	return elf_read_vaddr(img, len, &eh, sym.st_value, abi, err, err_len);
}
