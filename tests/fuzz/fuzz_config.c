/*
 * fuzz_config.c - libFuzzer target for the configuration parser:
 * config_load() (inih plus config.c's key table and checks) on the input as
 * the contents of schakel.conf.  config_load() takes a path, so the input is
 * written to a memfd and read back through /proc/self/fd/N (no disk I/O).
 * A configuration that loads is also queried (config_party, strlist_has)
 * and freed; one that fails must leave nothing to free.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd = memfd_create("schakel.conf", MFD_CLOEXEC);
	if (fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct errbuf e;

	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (config_load(&cfg, path, &e) == ST_OK) {
		for (size_t i = 0; i < cfg.nparties; i++) {
			const struct party *p = config_party(&cfg, cfg.parties[i].oin);

			if (p == NULL)
				abort();	/* every party is found by its OIN */
			(void)strlist_has(&p->gemeenten, "1783");
			(void)strlen(p->name);
		}
		config_free(&cfg);
	} else {
		(void)strlen(e.msg);
	}
	return 0;
}
