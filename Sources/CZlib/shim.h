#ifndef NATSCOPE_CZLIB_SHIM_H
#define NATSCOPE_CZLIB_SHIM_H
#include <zlib.h>

/* inflateInit2 is a macro (it passes the version and struct size): a function Swift can call.
   windowBits 15 + 32 accepts gzip and zlib headers. */
static inline int natscope_inflate_init(z_stream *stream) {
  return inflateInit2(stream, 15 + 32);
}
#endif
