/*
 * Fuzz target for the plugin loader's ELF reader (elf.c): any byte string is handed to
 * sl_elf_plugin_abi as a candidate plugin image. It must return 0 or an error with a
 * message, never crash or read outside the image. The input is copied into an exact-size
 * buffer so sanitizers see every overread. Seeds in tests/fuzz/corpus/elf/ are real
 * plugins, truncated and corrupted (see gen_elf_corpus.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/check.h"
#include "elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *img = malloc(size ? size : 1);
	uint32_t abi[2];
	char err[256];
	int rc;

	if (!img)
		return 0;
	memcpy(img, data, size);
	err[0] = '\0';
	rc = sl_elf_plugin_abi(img, size, abi, err, sizeof(err));
	/* Every refusal says why; success leaves err alone. */
	SL_BUG_ON(rc < 0 && (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL));
	SL_BUG_ON(rc > 0);
	free(img);
	return 0;
}
