// ncurses (wide-character build) for muster's interactive view. The macros Swift
// cannot import (COLOR_PAIR, attributes, the KEY_ codes) are given as functions.
#ifndef MUSTER_CNCURSES_SHIM_H
#define MUSTER_CNCURSES_SHIM_H
#define NCURSES_WIDECHAR 1
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <ncursesw/ncurses.h>
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>

static inline int muster_color_pair(short pair) { return (int)COLOR_PAIR(pair); }
static inline int muster_attr_bold(void) { return (int)A_BOLD; }
static inline int muster_attr_dim(void) { return (int)A_DIM; }
static inline int muster_attr_reverse(void) { return (int)A_REVERSE; }
static inline int muster_key_up(void) { return KEY_UP; }
static inline int muster_key_down(void) { return KEY_DOWN; }
static inline int muster_key_enter(void) { return KEY_ENTER; }
static inline int muster_key_resize(void) { return KEY_RESIZE; }
static inline int muster_key_home(void) { return KEY_HOME; }
static inline int muster_key_end(void) { return KEY_END; }
static inline int muster_key_ppage(void) { return KEY_PPAGE; }
static inline int muster_key_npage(void) { return KEY_NPAGE; }
static inline int muster_err(void) { return ERR; }
static inline WINDOW *muster_stdscr(void) { return stdscr; }
static inline int muster_lines(void) { return LINES; }
static inline int muster_cols(void) { return COLS; }
/// Terminal columns a character takes (wcwidth, which Swift does not import from Glibc).
static inline int muster_wcwidth(unsigned int scalar) { return wcwidth((wchar_t)scalar); }
static inline int muster_attron(int attributes) { return attron(attributes); }
static inline int muster_attroff(int attributes) { return attroff(attributes); }
#endif
