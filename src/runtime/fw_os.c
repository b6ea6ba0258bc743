/* fw_os.c — the stop request. A signal handler can reach nothing but a
 * static, so this and the reload request (SIGHUP) are the one piece of
 * process-wide state, behind functions. */
#include "fw_os.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;
static struct sigaction old_int, old_term;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

void fw_stop_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills, should a shutdown hang */
    sigemptyset(&sa.sa_mask);
    stop_flag = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

void fw_stop_uninstall(void) {
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
}

bool fw_stop_requested(void) { return stop_flag != 0; }

static volatile sig_atomic_t reload_flag;
static struct sigaction old_hup;
static bool hup_installed;

static void on_reload_signal(int sig) {
    (void)sig;
    reload_flag = 1;
}

void fw_reload_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_reload_signal;
    sigemptyset(&sa.sa_mask);
    reload_flag = 0;
    sigaction(SIGHUP, &sa, &old_hup);
    hup_installed = true;
}

void fw_reload_uninstall(void) {
    if (hup_installed)
        sigaction(SIGHUP, &old_hup, NULL);
    hup_installed = false;
}

bool fw_reload_take(void) {
    if (!reload_flag)
        return false;
    reload_flag = 0;
    return true;
}

void fw_vlog(const char *instance_id, const char *fmt, va_list ap) {
    fprintf(stderr, "fraudwatch[%s]: ", instance_id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void fw_log(const char *instance_id, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fw_vlog(instance_id, fmt, ap);
    va_end(ap);
}
