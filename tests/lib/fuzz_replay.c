/*
 * Corpus replay driver for fuzz targets in ordinary builds: runs LLVMFuzzerTestOneInput
 * once on every file of the corpus directories (or files) given, printing TAP. Clang
 * builds link the same targets with libFuzzer instead (tests/meson.build).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path, int *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(len > 0 ? (size_t)len : 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	printf("ok %d - %s\n", ++*n, path);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			printf("Bail out! cannot stat %s\n", argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			char path[4096];
			while (d && (e = readdir(d))) {
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
				if (replay_file(path, &n) < 0)
					printf("not ok %d - %s unreadable\n", ++n, path);
			}
			if (d)
				closedir(d);
		} else if (replay_file(argv[i], &n) < 0) {
			printf("not ok %d - %s unreadable\n", ++n, argv[i]);
		}
	}
	if (n == 0) {
		printf("1..1\nnot ok 1 - empty corpus: a fuzz target must ship seeds\n");
		return 1;
	}
	printf("1..%d\n", n);
	return 0;
}
