/*
 * leasetool.c - a node's job leases (node.h, store_lease_take()) from the
 * command line, for the tests of several nodes on one database.
 *
 *   leasetool DIR take JOB           takes or renews JOB's lease once;
 *                                    prints "held" or "not held"
 *   leasetool DIR hold JOB SECONDS   takes JOB's lease and renews it each
 *                                    second for SECONDS (prints "held"
 *                                    once it holds it, "lost" if it is
 *                                    lost), then exits without giving it
 *                                    up, as a node that dies
 *   leasetool DIR drop               gives up the node's leases
 *   leasetool DIR digest             prints the digest of DIR's parties
 *
 * The node is DIR's [server] node (or the host name), its lease
 * [server] lease_seconds long.  Exit 0, or 1 with the error on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "node.h"
#include "store.h"

/* Takes or renews job's lease once: *held; false (printed) on an error. */
static bool take(struct app *app, const char *node, const char *job, bool *held)
{
	struct errbuf e;

	if (store_lease_take(app->store, job, node, app->cfg.lease_seconds, held, &e) != ST_OK) {
		fprintf(stderr, "leasetool: %s\n", e.msg);
		return false;
	}
	return true;
}

static int hold(struct app *app, const char *node, const char *job, long seconds)
{
	bool held = false, had = false;

	for (long i = 0; i <= seconds; i++) {
		if (!take(app, node, job, &held))
			return 1;
		if (held && !had)
			printf("held\n");
		else if (had && !held)
			printf("lost\n");
		fflush(stdout);
		had = held;
		if (i < seconds)
			sleep(1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct app app = { 0 };
	char node[NODE_NAME_MAX], digest[65];
	struct errbuf e;
	bool held;
	int rc = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: leasetool DIR take|hold|drop|digest [JOB [SECONDS]]\n");
		return 2;
	}
	if (app_open(&app, argv[1], &e) != ST_OK) {
		fprintf(stderr, "leasetool: %s\n", e.msg);
		return 1;
	}
	node_name(&app.cfg, node);
	if (strcmp(argv[2], "take") == 0 && argc == 4) {
		if (take(&app, node, argv[3], &held)) {
			printf("%s\n", held ? "held" : "not held");
			rc = 0;
		}
	} else if (strcmp(argv[2], "hold") == 0 && argc == 5) {
		rc = hold(&app, node, argv[3], strtol(argv[4], NULL, 10));
	} else if (strcmp(argv[2], "drop") == 0) {
		rc = store_lease_drop(app.store, NULL, node, &e) == ST_OK ? 0 : 1;
		if (rc != 0)
			fprintf(stderr, "leasetool: %s\n", e.msg);
	} else if (strcmp(argv[2], "digest") == 0) {
		node_parties_digest(&app.cfg, digest);
		printf("%s\n", digest);
		rc = 0;
	} else {
		fprintf(stderr, "leasetool: unknown use\n");
		rc = 2;
	}
	app_close(&app);
	return rc;
}
