/*
 * demo.c - `schakel demo`: the whole pipeline on the bundled sample data,
 * in a temporary data directory: set-up, development certificates,
 * ingest, matching, the log, delivery of signed signals to a reference
 * receiver started for it, and at the end the table of signals and why
 * they were raised.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "cli.h"
#include "loader.h"
#include "sign.h"
#include "xml.h"

#define OIN_WESTLAND "00000001000000001783"
#define OIN_VENLO "00000001000000000983"
#define OIN_NLA "00000001003214345000"

/* A child process of the demo (receiver or daemon) and its port. */
struct child {
	pid_t pid;
	int port;
};

/* Runs one command in-process, as the demo's step n. */
static int step(const char *dir, int n, const char *what, char **argv)
{
	int argc = 0, rc;

	while (argv[argc] != NULL)
		argc++;
	printf("\n== %d. %s\n$ schakel", n, what);
	for (int i = 0; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	fflush(stdout);
	rc = cli_run(dir, argc, argv);
	fflush(stdout);
	return rc;
}

/*
 * Starts `schakel ARGS...` (this very program) with its stderr in file log,
 * and waits (at most 10 s) for its "listening on ADDR:PORT" line.
 */
static int spawn(struct child *c, char **args, const char *log)
{
	char line[512], *p;
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0) {
		close(fd);
		return -1;
	}
	if (c->pid == 0) {
		dup2(fd, STDERR_FILENO);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	close(fd);
	c->port = -1;
	for (int i = 0; i < 100 && c->port < 0; i++) {
		FILE *f = fopen(log, "r");

		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			p = strstr(line, "listening on ");
			if (p != NULL && (p = strchr(p + 13, ':')) != NULL)
				c->port = atoi(p + 1);
		}
		if (f != NULL)
			fclose(f);
		if (c->port < 0)
			usleep(100000);
	}
	return c->port > 0 ? 0 : -1;
}

static void stop(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGTERM);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
}

/* Makes the development PKI with certs/mkcerts.sh (run with bash, no shell line). */
static int make_certs(const char *dir)
{
	char out[4200];
	const char *script = getenv("SCHAKEL_MKCERTS");
	int status, devnull;
	pid_t pid;

	if (script == NULL || *script == '\0')
		script = SCHAKEL_MKCERTS;
	snprintf(out, sizeof(out), "%s/certs", dir);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDOUT_FILENO);
		execlp("bash", "bash", script, out, OIN_WESTLAND ":Westland", OIN_VENLO ":Venlo",
		       OIN_NLA ":NLA", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/* Sets GEEN_VERGUNNING to Westland and adds the parties, pushing to port. */
static int configure(const char *dir, int port)
{
	char path[4200], *text = NULL;
	size_t len = 0;
	FILE *in, *out;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/schakel.conf", dir);
	in = fopen(path, "r");
	out = open_memstream(&text, &len);
	if (in == NULL || out == NULL)
		goto out_close;
	for (char line[512], sec[64] = ""; fgets(line, sizeof(line), in) != NULL;) {
		if (line[0] == '[')
			snprintf(sec, sizeof(sec), "%.63s", line);
		if (strncmp(line, "gemeenten =", 11) == 0)
			fputs("gemeenten = 1783\n", out);
		else if (strncmp(sec, "[admin]", 7) == 0 && strncmp(line, "port =", 6) == 0)
			fputs("port = 0\n", out);	/* never clash with a running daemon */
		else
			fputs(line, out);
	}
	fprintf(out, "\n# --- added by `schakel demo` ---\n"
		"[party.%s]\nname = Gemeente Westland\ngemeenten = 1783\nsupplies = brp\n"
		"receives = all\npush_url = https://127.0.0.1:%d/westland\n\n"
		"[party.%s]\nname = Gemeente Venlo\ngemeenten = 0983\nsupplies = brp\n"
		"receives = all\npush_url = https://127.0.0.1:%d/venlo\n\n"
		"[party.%s]\nname = Nederlandse Arbeidsinspectie\nsupplies = inspectie\n"
		"receives = all\nreceive_bsn = true\npush_url = https://127.0.0.1:%d/nla\n",
		OIN_WESTLAND, port, OIN_VENLO, port, OIN_NLA, port);
	fclose(out);
	out = NULL;
	fclose(in);
	in = fopen(path, "w");
	if (in != NULL && fwrite(text, 1, len, in) == len)
		rc = 0;
out_close:
	if (out != NULL)
		fclose(out);
	if (in != NULL)
		fclose(in);
	free(text);
	return rc;
}

static int count_pending(void *arg, const struct delivery_row *d)
{
	(void)d;
	(*(long *)arg)++;
	return 0;
}

/* Waits (at most 30 s) until the outbox has nothing pending. */
static long wait_delivered(const char *dir)
{
	long pending = -1;

	for (int i = 0; i < 300 && pending != 0; i++) {
		struct app app;
		struct errbuf e;

		usleep(100000);
		if (app_open(&app, dir, &e) != ST_OK)
			continue;
		pending = 0;
		store_deliveries(app.store, INT64_MAX, false, 0, count_pending, &pending, &e);
		app_close(&app);
	}
	return pending;
}

/*
 * Verifies every stored signal's signature against the broker's certificate
 * alone (pinned, as the xmlsec1 command the demo prints); returns how many
 * verified.
 */
static int verify_received(const char *dir, int *total)
{
	char path[4300], broker[4200];
	struct verifier *v;
	struct dirent *de;
	struct errbuf e;
	int ok = 0;
	DIR *d;

	*total = 0;
	snprintf(broker, sizeof(broker), "%s/certs/server.crt", dir);
	snprintf(path, sizeof(path), "%s/received", dir);
	d = opendir(path);
	if (d == NULL || sign_init(&e) != ST_OK) {
		if (d != NULL)
			closedir(d);
		return 0;
	}
	v = sign_verifier_pinned(broker, &e);
	while (v != NULL && (de = readdir(d)) != NULL) {
		xmlDocPtr doc;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/received/%s", dir, de->d_name);
		(*total)++;
		doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
		ok += doc != NULL && sign_verify(v, doc, &e) == ST_OK;
		xmlFreeDoc(doc);
	}
	closedir(d);
	sign_verifier_free(v);
	sign_cleanup();
	return ok;
}

/* Starts the daemon until the outbox is empty, then shows what arrived. */
static int deliver(const char *dir, int n)
{
	char *serve[] = { "schakel", "-D", (char *)dir, "serve", "--port", "0", NULL };
	struct child daemon = { 0 };
	char log[4200];
	int total, verified;
	long pending;

	printf("\n== %d. delivery: the daemon signs each signal and pushes it to its recipients\n"
	       "$ schakel serve   (until the outbox is empty)\n", n);
	fflush(stdout);
	snprintf(log, sizeof(log), "%s/serve.log", dir);
	if (spawn(&daemon, serve, log) != 0) {
		stop(&daemon);
		fprintf(stderr, "schakel demo: the daemon did not start\n");
		return ST_FAIL;
	}
	pending = wait_delivered(dir);
	stop(&daemon);
	verified = verify_received(dir, &total);
	printf("%d signed signals arrived at the reference receiver (one per signal and "
	       "recipient);\n%d of them verified as signed by the broker's certificate alone, "
	       "as\n  xmlsec1 --verify --pubkey-cert-pem certs/server.crt --enabled-key-data "
	       "key-name FILE\nwould (it ignores the certificate in the document, so a signal "
	       "another party\nre-signed with its own certificate fails); %ld still pending\n",
	       total, verified, pending);
	return total > 0 && verified == total && pending == 0 ? ST_OK : ST_FAIL;
}

static void remove_dir(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "schakel demo: could not remove %s\n", dir);
}

int cmd_demo(const char *dir_unused, int argc, char **argv)
{
	static const char *const names[4] = {
		"brp-npsLa01.xml", "brp-venlo-npsLa01.xml", "huisvesting.csv", "inspectie.json",
	};
	char dir[] = "/tmp/schakel-demo-XXXXXX", files[4][4096], recv_dir[64], cert[64],
	     key[64], ca[64], log[64];
	bool keep = argc == 2 && strcmp(argv[1], "--keep") == 0;
	struct child receiver = { 0 };
	int rc, n = 1;

	(void)dir_unused;
	if (argc > 1 && !keep) {
		fprintf(stderr, "schakel demo: unexpected argument '%s'\n", argv[1]);
		return ST_USAGE;
	}
	if (mkdtemp(dir) == NULL) {
		perror("schakel demo: cannot make a temporary directory");
		return ST_FAIL;
	}
	for (int i = 0; i < 4; i++)
		snprintf(files[i], sizeof(files[i]), "%s/%s", loader_sample_dir(), names[i]);
	snprintf(recv_dir, sizeof(recv_dir), "%s/received", dir);
	snprintf(cert, sizeof(cert), "%s/certs/server.crt", dir);
	snprintf(key, sizeof(key), "%s/certs/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/certs/ca.crt", dir);
	printf("schakel demo: the whole pipeline on the sample data in %s,\n"
	       "with a fresh data directory %s\n", loader_sample_dir(), dir);
	rc = step(dir, n++, "a data directory with keys and a database",
		  (char *[]){ "init", NULL });
	if (rc == ST_OK) {
		printf("\n== %d. development certificates (certs/mkcerts.sh), and a reference "
		       "receiver for the recipients\n", n++);
		char *recv[] = { "schakel", "receive", "--dir", recv_dir, "--port", "0", "--cert",
				 cert, "--key", key, "--ca", ca, "--broker-cert", cert, NULL };
		snprintf(log, sizeof(log), "%s/receive.log", dir);
		if (make_certs(dir) != 0 || spawn(&receiver, recv, log) != 0 ||
		    configure(dir, receiver.port) != 0)
			rc = ST_FAIL;
		else
			printf("   receiver on 127.0.0.1:%d; configured: Westland, Venlo and the "
			       "inspectorate, GEEN_VERGUNNING for Westland (1783)\n", receiver.port);
	}
	if (rc == ST_OK)	/* one BSN in the first file fails the elfproef: exit 3 */
		rc = step(dir, n++, "BRP extracts of Westland and Venlo (one bad BSN)",
			  (char *[]){ "ingest", "brp", files[0], files[1], NULL });
	if (rc == ST_OK || rc == ST_REJECTED)
		rc = step(dir, n++, "the housing register",
			  (char *[]){ "ingest", "huisvesting", files[2], NULL });
	if (rc == ST_OK)
		rc = step(dir, n++, "the inspectorate's findings",
			  (char *[]){ "ingest", "inspectie", files[3], NULL });
	if (rc == ST_OK)
		rc = step(dir, n++, "matching as of 2026-11-01",
			  (char *[]){ "match", "--as-of", "2026-11-01", NULL });
	if (rc == ST_OK)
		rc = step(dir, n++, "the exchange log's hash chain",
			  (char *[]){ "log", "verify", NULL });
	if (rc == ST_OK)
		rc = deliver(dir, n++);
	stop(&receiver);
	if (rc == ST_OK)
		rc = step(dir, n++, "the signals and why they were raised",
			  (char *[]){ "signals", NULL });
	if (keep)
		printf("\ndata directory kept: %s\n", dir);
	else
		remove_dir(dir);
	if (rc != ST_OK)
		fprintf(stderr, "schakel demo: a step failed (exit %d)\n", rc);
	return rc;
}
