#ifndef NATSCOPE_CNCURSESW_SHIM_H
#define NATSCOPE_CNCURSESW_SHIM_H
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

static inline int natscope_a_bold(void) { return (int)A_BOLD; }
static inline int natscope_a_reverse(void) { return (int)A_REVERSE; }
static inline int natscope_a_dim(void) { return (int)A_DIM; }
static inline int natscope_a_underline(void) { return (int)A_UNDERLINE; }
static inline int natscope_key_resize(void) { return KEY_RESIZE; }
static inline int natscope_err(void) { return ERR; }
static inline int natscope_key_code_yes(void) { return KEY_CODE_YES; }

/* newterm on the terminal behind stdin/stdout (the C globals are not visible to Swift 6). */
static inline SCREEN *natscope_newterm(void) { return newterm(NULL, stdout, stdin); }
static inline WINDOW *natscope_stdscr(void) { return stdscr; }

/* Draws one cell: character `ch` with attributes and colour pair. */
static inline int natscope_put_cell(WINDOW *w, int y, int x, unsigned int ch, int attrs,
                                    short pair) {
  cchar_t cc;
  wchar_t wc[2] = {(wchar_t)ch, 0};
  setcchar(&cc, wc, (attr_t)attrs, pair, NULL);
  return mvwadd_wch(w, y, x, &cc);
}

/* Reads one key: returns 0 when nothing came (timeout), 1 for a character in *code,
   2 for a function key (KEY_UP, KEY_RESIZE, ...) in *code. */
static inline int natscope_read(WINDOW *w, unsigned int *code) {
  wint_t wch = 0;
  int r = wget_wch(w, &wch);
  *code = (unsigned int)wch;
  if (r == ERR) return 0;
  return r == KEY_CODE_YES ? 2 : 1;
}

/* Writes bytes straight to the terminal (escape sequences ncurses does not know). */
static inline void natscope_write_out(const char *bytes, size_t count) {
  fflush(stdout);
  while (count > 0) {
    ssize_t n = write(STDOUT_FILENO, bytes, count);
    if (n <= 0) return;
    bytes += n;
    count -= (size_t)n;
  }
}

/* ---- Signals -------------------------------------------------------------------------------
   SIGINT/SIGTERM/SIGHUP only set a flag; the run loop sees it within one frame, restores the
   terminal with endwin() on its normal path and then exits (re-raising TERM/HUP with the
   default action). A second such signal while the first is pending means the loop is stuck:
   the handler then restores the terminal with async-signal-safe calls only (write, tcsetattr)
   and re-raises. Crash signals (SEGV/ABRT/BUS/ILL/FPE) do the same at once: endwin() is not
   async-signal-safe, so the handler writes the reset sequences itself (bracketed paste off,
   attributes off, cursor on, leave the alternate screen) and puts back the termios saved
   before newterm(). The handlers are installed before newterm(), so ncurses leaves SIGINT and
   SIGTERM to us; SIGWINCH stays ncurses' own (it reports KEY_RESIZE). */
static volatile sig_atomic_t natscope_pending_signal = 0;
static volatile sig_atomic_t natscope_terminal_active = 0;
static volatile sig_atomic_t natscope_termios_saved = 0;
static inline __attribute__((always_inline)) struct termios *natscope_saved_termios(void) {
  static struct termios saved;
  return &saved;
}

static inline void natscope_emergency_restore(void) {
  if (!natscope_terminal_active) return;
  natscope_terminal_active = 0;
  static const char seq[] = "\033[?2004l\033[0m\033[?25h\033[?1049l\r\n";
  ssize_t n = write(STDOUT_FILENO, seq, sizeof seq - 1);
  (void)n;
  if (natscope_termios_saved) tcsetattr(STDIN_FILENO, TCSAFLUSH, natscope_saved_termios());
}

static inline void natscope_crash_handler(int sig) {
  natscope_emergency_restore();
  signal(sig, SIG_DFL);
  raise(sig);
}

static inline void natscope_quit_handler(int sig) {
  if (natscope_pending_signal != 0) {
    natscope_emergency_restore();
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  natscope_pending_signal = sig;
}

static inline void natscope_install_signal_handlers(void) {
  if (tcgetattr(STDIN_FILENO, natscope_saved_termios()) == 0) natscope_termios_saved = 1;
  natscope_pending_signal = 0;
  struct sigaction quit;
  memset(&quit, 0, sizeof quit);
  quit.sa_handler = natscope_quit_handler;
  sigemptyset(&quit.sa_mask);
  sigaction(SIGINT, &quit, NULL);
  sigaction(SIGTERM, &quit, NULL);
  sigaction(SIGHUP, &quit, NULL);
  struct sigaction crash;
  memset(&crash, 0, sizeof crash);
  crash.sa_handler = natscope_crash_handler;
  sigemptyset(&crash.sa_mask);
  int crashes[] = {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE};
  for (unsigned i = 0; i < sizeof crashes / sizeof crashes[0]; i++) sigaction(crashes[i], &crash, NULL);
}

static inline void natscope_set_terminal_active(int active) { natscope_terminal_active = active; }

/* The signal that asked the loop to stop (0: none). */
static inline int natscope_pending_signal_number(void) { return natscope_pending_signal; }

static inline void natscope_restore_default_signal_handlers(void) {
  int all[] = {SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE};
  for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++) signal(all[i], SIG_DFL);
}

#endif
