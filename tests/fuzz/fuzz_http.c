/*
 * fuzz_http.c - libFuzzer target for the HTTPS upload handler: the real
 * server (serve_run(): src/serve.c, src/http.c, src/api.c, src/tls.c, the
 * ingest pipeline and the store) runs in a thread of this process on
 * 127.0.0.1, with a test PKI made by certs/mkcerts.sh at start-up, and each
 * input is sent as the bytes of one request over a fresh mutual-TLS
 * connection as party Westland (00000001000000001783, supplies brp).
 *
 * After the input the client sends its close_notify and reads whatever the
 * server answers until it closes (at most 2 s).  Uploads load the adapters
 * from $SCHAKEL_ADAPTER_DIR, which run.sh builds with the same sanitizers.
 * Coverage is counted in the server thread too, so the fuzzer is guided by
 * what the request parser and the handlers do.  Slow (a TLS handshake per
 * input): expect hundreds, not thousands, of inputs a second.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "app.h"
#include "serve.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WESTLAND "00000001000000001783"

static char dir[64] = "/tmp/schakel-fuzz-http-XXXXXX";
static char data_dir[128];
static int port;
static SSL_CTX *client;

static void run(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "fuzz_http: failed: %s\n", cmd);
		exit(1);
	}
}

static void *server(void *arg)
{
	struct errbuf e;

	(void)arg;
	if (serve_run(data_dir, port, &e) != ST_OK)
		fprintf(stderr, "fuzz_http: serve: %s\n", e.msg);
	_exit(1);	/* the server only ends on error */
}

/* A port that was free a moment ago. */
static int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		abort();
	p = ntohs(sin.sin_port);
	close(fd);
	return p;
}

static int dial(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { 2, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char cmd[1024], path[256];
	pthread_t t;
	bool created;
	struct errbuf e;
	FILE *f;

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	snprintf(cmd, sizeof(cmd), "'%s/certs/mkcerts.sh' '%s/pki' %s:Westland >/dev/null",
		 SCHAKEL_ROOT, dir, WESTLAND);
	run(cmd);
	if (app_init(data_dir, &created, &e) != ST_OK) {
		fprintf(stderr, "fuzz_http: init: %s\n", e.msg);
		exit(1);
	}
	snprintf(cmd, sizeof(cmd), "cp -r '%s/pki' '%s/certs' && sed -i "
		 "-e 's/^request_timeout =.*/request_timeout = 2/' "
		 "-e 's/^max_body_bytes =.*/max_body_bytes = 1M/' '%s/schakel.conf'",
		 dir, data_dir, data_dir);
	run(cmd);
	snprintf(path, sizeof(path), "%s/schakel.conf", data_dir);
	f = fopen(path, "a");
	if (f == NULL)
		abort();
	fprintf(f, "\n[party.%s]\nname = Gemeente Westland\ngemeenten = 1783\n"
		"supplies = brp, huisvesting, inspectie\nreceives = all\n", WESTLAND);
	fclose(f);

	client = SSL_CTX_new(TLS_client_method());
	snprintf(path, sizeof(path), "%s/pki/party-%s.crt", dir, WESTLAND);
	if (client == NULL || SSL_CTX_use_certificate_chain_file(client, path) != 1)
		abort();
	snprintf(path, sizeof(path), "%s/pki/party-%s.key", dir, WESTLAND);
	if (SSL_CTX_use_PrivateKey_file(client, path, SSL_FILETYPE_PEM) != 1)
		abort();
	snprintf(path, sizeof(path), "%s/pki/ca.crt", dir);
	if (SSL_CTX_load_verify_locations(client, path, NULL) != 1)
		abort();
	SSL_CTX_set_verify(client, SSL_VERIFY_PEER, NULL);

	port = free_port();
	if (pthread_create(&t, NULL, server, NULL) != 0)
		abort();
	for (int i = 0; i < 200; i++) {
		int fd = dial();

		if (fd >= 0) {
			close(fd);
			fprintf(stderr, "fuzz_http: server up on 127.0.0.1:%d, data in %s\n",
				port, data_dir);
			return 0;
		}
		usleep(50000);
	}
	fprintf(stderr, "fuzz_http: the server did not come up\n");
	exit(1);
}

/*
 * True when an SSL call on the blocking socket only stopped for a signal and
 * should be made again.  libFuzzer's -timeout alarm (SIGALRM every few
 * seconds) interrupts our reads, and a socket with SO_RCVTIMEO is never
 * restarted by the kernel (signal(7)), so OpenSSL reports EINTR as a wish to
 * read or write.  errno is cleared before each call.
 */
static bool interrupted(SSL *ssl, int ret)
{
	int err = SSL_get_error(ssl, ret);

	return (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ||
		err == SSL_ERROR_SYSCALL) && errno == EINTR;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[4096];
	SSL *ssl;
	int fd = dial(), ret;

	if (fd < 0)
		abort();	/* the server is gone */
	ssl = SSL_new(client);
	if (ssl == NULL)
		abort();
	SSL_set_fd(ssl, fd);
	while ((errno = 0, ret = SSL_connect(ssl)) != 1) {
		if (!interrupted(ssl, ret)) {
			ERR_print_errors_fp(stderr);
			abort();	/* the server refused a valid party */
		}
	}
	while (size > 0 && (errno = 0, ret = SSL_write(ssl, data, (int)size)) <= 0 &&
	       interrupted(ssl, ret))
		;
	SSL_shutdown(ssl);
	while ((errno = 0, ret = SSL_read(ssl, buf, sizeof(buf))) > 0 || interrupted(ssl, ret))
		;
	SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	return 0;
}
