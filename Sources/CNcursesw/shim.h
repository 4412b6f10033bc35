#ifndef NATSCOPE_CNCURSESW_SHIM_H
#define NATSCOPE_CNCURSESW_SHIM_H
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>

static inline int natscope_a_bold(void) { return (int)A_BOLD; }
static inline int natscope_a_reverse(void) { return (int)A_REVERSE; }
static inline int natscope_a_dim(void) { return (int)A_DIM; }
static inline int natscope_a_underline(void) { return (int)A_UNDERLINE; }
static inline int natscope_key_resize(void) { return KEY_RESIZE; }
static inline int natscope_err(void) { return ERR; }

#endif
