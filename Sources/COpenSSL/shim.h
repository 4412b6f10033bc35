// OpenSSL 3 for the DTLS machine: DTLS 1.2 with use_srtp, driven through memory BIOs.
// Macros that Swift does not import (function-like macros over SSL_ctrl and friends) are
// wrapped here as static inline functions, so the Swift side never calls SSL_ctrl with magic
// numbers.
#ifndef NATSCOPE_COPENSSL_SHIM_H
#define NATSCOPE_COPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/// DTLSv1_get_timeout: 1 and the time left when a retransmission timer runs, 0 otherwise.
static inline long natscope_dtls_get_timeout(SSL *ssl, struct timeval *tv) {
  return DTLSv1_get_timeout(ssl, tv);
}

/// DTLSv1_handle_timeout: retransmits the last flight when OpenSSL's timer expired.
static inline long natscope_dtls_handle_timeout(SSL *ssl) { return DTLSv1_handle_timeout(ssl); }

/// SSL_set_mtu: the largest datagram OpenSSL may write (with SSL_OP_NO_QUERY_MTU).
static inline long natscope_ssl_set_mtu(SSL *ssl, long mtu) { return SSL_set_mtu(ssl, mtu); }

/// The number of bytes waiting in a memory BIO.
static inline size_t natscope_bio_pending(BIO *bio) { return BIO_ctrl_pending(bio); }

/// A memory BIO that reports "retry" (not EOF) when it is empty, as a datagram source should.
static inline void natscope_bio_set_mem_eof_return(BIO *bio, int value) {
  BIO_set_mem_eof_return(bio, value);
}

/// SSL_CTX_set_options (a macro in some OpenSSL versions).
static inline uint64_t natscope_ctx_set_options(SSL_CTX *ctx, uint64_t options) {
  return SSL_CTX_set_options(ctx, options);
}

/// SSL_set_options.
static inline uint64_t natscope_ssl_set_options(SSL *ssl, uint64_t options) {
  return SSL_set_options(ssl, options);
}

/// The OpenSSL option that stops it querying the (absent) socket for its MTU.
static inline uint64_t natscope_op_no_query_mtu(void) { return SSL_OP_NO_QUERY_MTU; }

/// SSL_CTX_set_min_proto_version / max: DTLS 1.2 only.
static inline int natscope_ctx_dtls12_only(SSL_CTX *ctx) {
  return SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) == 1
      && SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) == 1;
}

/// SSL_CTX_set1_groups_list / curves for ECDHE.
static inline int natscope_ctx_set_groups(SSL_CTX *ctx, const char *list) {
  return (int)SSL_CTX_set1_groups_list(ctx, list);
}

/// The alert description OpenSSL raised or received, from the info callback's value.
static inline int natscope_alert_description(int value) { return value & 0xff; }

/// SSL_CB_* constants used by the info callback.
static inline int natscope_cb_alert(void) { return SSL_CB_ALERT; }
static inline int natscope_cb_read(void) { return SSL_CB_READ; }
static inline int natscope_cb_write(void) { return SSL_CB_WRITE; }

/// SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT.
static inline int natscope_verify_peer_required(void) {
  return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
}

/// SSL_get_peer_certificate (renamed in 3.0; the new name is a function, the old a macro).
static inline X509 *natscope_peer_certificate(SSL *ssl) { return SSL_get1_peer_certificate(ssl); }

/// The X509 store context's SSL, for the verify callback.
static inline SSL *natscope_store_ssl(X509_STORE_CTX *store) {
  return (SSL *)X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
}

/// A fresh ECDSA P-256 key (EVP_EC_gen is a variadic macro, which Swift cannot call).
static inline EVP_PKEY *natscope_generate_p256_key(void) { return EVP_EC_gen("P-256"); }

/// Adds a Netscape comment extension carrying `text` to a certificate (to make a large one on
/// purpose, as a long certificate chain would be); 1 on success.
static inline int natscope_x509_add_comment(X509 *cert, const char *text) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_netscape_comment, text);
  if (ext == NULL) return 0;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

/// DTLS_set_link_mtu (a macro over SSL_ctrl).
static inline long natscope_dtls_set_link_mtu(SSL *ssl, long mtu) {
  return DTLS_set_link_mtu(ssl, mtu);
}

/// SSL_set_ex_data slot 0 (SSL_set_app_data is a macro).
static inline int natscope_ssl_set_app_data(SSL *ssl, void *data) {
  return SSL_set_ex_data(ssl, 0, data);
}

/// SSL_get_ex_data slot 0.
static inline void *natscope_ssl_get_app_data(const SSL *ssl) { return SSL_get_ex_data(ssl, 0); }

#endif
