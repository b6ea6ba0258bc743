/* replay_driver.c — main() for gcc builds of libFuzzer targets. It runs
 * LLVMFuzzerTestOneInput on every corpus file, then on deterministic
 * pseudo-random mutations of them (bit flips, byte inserts and deletes,
 * truncation, splicing), so the sanitizers exercise each fuzz target in CI
 * without clang. Generic: every tests/fuzz/fuzz_*.c links with it.
 *
 * usage: fuzz_NAME CORPUS_DIR_OR_FILE...
 * env:   FW_FUZZ_ITERATIONS (default 20000), FW_FUZZ_SEED (default fixed)
 * A crashing input is saved as ./crash-replay-<run> before the process dies;
 * rerun the binary on that file to reproduce. Exit status: 0, or the
 * sanitizer's / signal's when the target crashed; 2 for a usage error. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional hooks: libFuzzer's initializer, and the sanitizers' death callback
 * (absent in a build without sanitizers, hence weak). */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);
__attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

#define DEFAULT_ITERATIONS 20000
#define DEFAULT_SEED 0x5eedf00dcafef00dull
#define MAX_FILE_BYTES ((size_t)1 << 20) /* larger corpus files are cut */
#define MAX_OPS 6                         /* mutations stacked on one input */

typedef struct input {
    uint8_t *data;
    size_t len;
    char *name;
} input;

typedef struct corpus {
    input *in;
    size_t n, cap;
    size_t largest;
} corpus;

/* What is running now, for the crash hooks (which take no argument). */
static const uint8_t *g_cur;
static size_t g_cur_len;
static unsigned long g_run;

static void die(const char *what, const char *path) {
    fprintf(stderr, "replay_driver: %s: %s\n", what, path);
    exit(2);
}

/* ---- crash capture ---- */

/* Writes the current input to ./crash-replay-<run> with async-signal-safe
 * calls only: it runs from a signal handler or a sanitizer's death path. */
static void save_crash(void) {
    char name[48] = "crash-replay-", digits[24];
    size_t o = strlen(name), nd = 0;
    unsigned long r = g_run;
    do {
        digits[nd++] = (char)('0' + r % 10);
        r /= 10;
    } while (r);
    while (nd)
        name[o++] = digits[--nd];
    name[o] = '\0';
    if (!g_cur)
        return;
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    for (size_t off = 0; off < g_cur_len;) {
        ssize_t w = write(fd, g_cur + off, g_cur_len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    static const char msg1[] = "replay_driver: crashing input saved as ";
    (void)!write(2, msg1, sizeof(msg1) - 1);
    (void)!write(2, name, o);
    (void)!write(2, "\n", 1);
}

static void on_signal(int sig) {
    save_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_crash_hooks(void) {
    if (__sanitizer_set_death_callback) {
        /* The sanitizers own SIGSEGV and friends; they call us before exiting. */
        __sanitizer_set_death_callback(save_crash);
        return;
    }
    static const int sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], on_signal);
}

/* ---- corpus ---- */

static void corpus_add(corpus *c, const char *path, const char *name) {
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot open", path);
    uint8_t *data = malloc(MAX_FILE_BYTES);
    if (!data)
        die("out of memory reading", path);
    size_t len = fread(data, 1, MAX_FILE_BYTES, f);
    fclose(f);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        input *in = realloc(c->in, cap * sizeof(*in));
        if (!in)
            die("out of memory reading", path);
        c->in = in;
        c->cap = cap;
    }
    uint8_t *shrunk = realloc(data, len ? len : 1);
    c->in[c->n].data = shrunk ? shrunk : data;
    c->in[c->n].len = len;
    c->in[c->n].name = strdup(name);
    if (!c->in[c->n].name)
        die("out of memory reading", path);
    c->n++;
    if (len > c->largest)
        c->largest = len;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds a file, or every regular file of a directory in name order, so the
 * run is the same on every filesystem. */
static void corpus_load(corpus *c, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        die("cannot stat", path);
    if (!S_ISDIR(st.st_mode)) {
        corpus_add(c, path, path);
        return;
    }
    DIR *dir = opendir(path);
    if (!dir)
        die("cannot open directory", path);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown)
                die("out of memory listing", path);
            names = grown;
        }
        names[n] = strdup(de->d_name);
        if (!names[n])
            die("out of memory listing", path);
        n++;
    }
    closedir(dir);
    if (n)
        qsort(names, n, sizeof(*names), cmp_name);
    for (size_t i = 0; i < n; i++) {
        size_t plen = strlen(path) + strlen(names[i]) + 2;
        char *full = malloc(plen);
        if (!full)
            die("out of memory listing", path);
        snprintf(full, plen, "%s/%s", path, names[i]);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            corpus_add(c, full, names[i]);
        free(full);
        free(names[i]);
    }
    free(names);
}

/* ---- running and mutating ---- */

/* Runs the target on an exact-size heap copy, so AddressSanitizer catches a
 * read one byte past the input (a corpus buffer may be larger). */
static void run_one(const uint8_t *data, size_t len) {
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        die("out of memory", "input copy");
    if (len)
        memcpy(copy, data, len);
    g_cur = copy;
    g_cur_len = len;
    (void)LLVMFuzzerTestOneInput(copy, len);
    g_cur = NULL;
    free(copy);
    g_run++;
}

/* xorshift64*: fixed seed, so every run mutates the same way. */
static uint64_t rnd(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static size_t rnd_below(uint64_t *s, size_t n) { return n ? (size_t)(rnd(s) % n) : 0; }

/* Bytes that often sit on a parser's decision points. */
static const uint8_t interesting[] = {
    0x00, 0x01, 0x1f, 0x20, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4,
    0xff, '"', '\\', '{', '}', '[', ']', ',', ':', ';', '-', '+', '.', '0', '1', '9',
    'e', 'E', 'u', 'n', 't', 'f', '\n', '\r', '\t', ' ', 'Z', 'T',
};

/* Opens a gap of n bytes at pos (n is clipped to the room left). */
static size_t make_room(uint8_t *buf, size_t len, size_t cap, size_t pos, size_t *n) {
    if (pos > len || len > cap) { /* never happens; tells the compiler len - pos is sane */
        *n = 0;
        return len;
    }
    if (*n > cap - len)
        *n = cap - len;
    memmove(buf + pos + *n, buf + pos, len - pos);
    return len + *n;
}

static size_t mutate(uint8_t *buf, size_t len, size_t cap, const corpus *c, uint64_t *s) {
    size_t ops = 1 + rnd_below(s, MAX_OPS);
    for (size_t k = 0; k < ops; k++) {
        size_t pos = rnd_below(s, len + 1), n;
        const input *other = c->n ? &c->in[rnd_below(s, c->n)] : NULL;
        switch (rnd_below(s, 10)) {
        case 0: /* flip a bit */
            if (len)
                buf[rnd_below(s, len)] ^= (uint8_t)(1u << rnd_below(s, 8));
            break;
        case 1: /* overwrite a byte */
            if (len)
                buf[rnd_below(s, len)] = (uint8_t)rnd(s);
            break;
        case 2: /* overwrite with an interesting byte */
            if (len)
                buf[rnd_below(s, len)] = interesting[rnd_below(s, sizeof(interesting))];
            break;
        case 3: /* insert 1..4 bytes */
            n = 1 + rnd_below(s, 4);
            len = make_room(buf, len, cap, pos, &n);
            for (size_t i = 0; i < n; i++)
                buf[pos + i] = rnd(s) & 1 ? (uint8_t)rnd(s)
                                          : interesting[rnd_below(s, sizeof(interesting))];
            break;
        case 4: /* delete 1..16 bytes */
            if (pos < len) {
                n = 1 + rnd_below(s, 16);
                if (n > len - pos)
                    n = len - pos;
                memmove(buf + pos, buf + pos + n, len - pos - n);
                len -= n;
            }
            break;
        case 5: /* truncate */
            len = pos < len ? pos : len;
            break;
        case 6: /* duplicate a chunk of itself */
            if (len) {
                size_t from = rnd_below(s, len);
                n = 1 + rnd_below(s, len - from);
                size_t at = rnd_below(s, len + 1);
                len = make_room(buf, len, cap, at, &n);
                /* the chunk may have moved if it was at or after at */
                memmove(buf + at, buf + (from >= at ? from + n : from), n);
            }
            break;
        case 7: /* splice in a chunk of another input */
            if (other && other->len) {
                size_t from = rnd_below(s, other->len);
                n = 1 + rnd_below(s, other->len - from);
                len = make_room(buf, len, cap, pos, &n);
                memcpy(buf + pos, other->data + from, n);
            }
            break;
        case 8: /* crossover: this input's head, another's tail */
            if (other) {
                size_t from = rnd_below(s, other->len + 1);
                n = other->len - from;
                if (n > cap - pos)
                    n = cap - pos;
                memcpy(buf + pos, other->data + from, n);
                len = pos + n;
            }
            break;
        default: /* a run of one byte: deep nesting, long tokens */
            n = 1 + rnd_below(s, 200);
            len = make_room(buf, len, cap, pos, &n);
            memset(buf + pos, interesting[rnd_below(s, sizeof(interesting))], n);
            break;
        }
    }
    return len;
}

static unsigned long long env_u64(const char *name, unsigned long long dflt) {
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    if (*end != '\0')
        die("not a number in", name);
    return x;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    unsigned long long iterations = env_u64("FW_FUZZ_ITERATIONS", DEFAULT_ITERATIONS);
    uint64_t seed = env_u64("FW_FUZZ_SEED", DEFAULT_SEED);
    if (!seed)
        seed = DEFAULT_SEED; /* xorshift is stuck at 0 */
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    install_crash_hooks();

    corpus c = { 0 };
    for (int i = 1; i < argc; i++)
        corpus_load(&c, argv[i]);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run_one(NULL, 0);
    for (size_t i = 0; i < c.n; i++)
        run_one(c.in[i].data, c.in[i].len);

    /* Mutants may grow to twice the largest input, with room for inserts. */
    size_t cap = 2 * c.largest + 1024;
    uint8_t *buf = malloc(cap);
    if (!buf)
        die("out of memory", "mutation buffer");
    uint64_t s = seed;
    size_t largest_run = c.largest;
    for (unsigned long long it = 0; it < iterations; it++) {
        size_t len = 0;
        if (c.n) {
            const input *base = &c.in[rnd_below(&s, c.n)];
            memcpy(buf, base->data, base->len);
            len = base->len;
        }
        len = mutate(buf, len, cap, &c, &s);
        if (len > largest_run)
            largest_run = len;
        run_one(buf, len);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);

    const char *slash = strrchr(argv[0], '/');
    printf("replay_driver: %s: %zu corpus inputs + %llu mutations (seed 0x%llx), "
           "largest %zu bytes, %.2f s, no crash\n",
           slash ? slash + 1 : argv[0], c.n, iterations, (unsigned long long)seed,
           largest_run,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(buf);
    for (size_t i = 0; i < c.n; i++) {
        free(c.in[i].data);
        free(c.in[i].name);
    }
    free(c.in);
    return 0;
}
