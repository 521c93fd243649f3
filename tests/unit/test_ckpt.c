// test_ckpt.c: checkpoint files and the checkpoint directory protocol.
//   - round trip: every tensor of every group, bit for bit, meta and state,
//     0-dim and dotted-name parameters, with and without EMA; h5py-visible
//     layout (groups, float32 datasets, string attributes);
//   - verification: a complete file passes; a flipped data byte, a
//     truncated file, a missing tensor / attribute, a wrong shape are each
//     reported (ckpt_verify) and refused by ckpt_read_tensors (forked child:
//     exit 1, message naming the tensor);
//   - commit: step file + LATEST, retention (newest K + every M-th + LATEST),
//     stray temp files cleaned, LATEST that names garbage refused;
//   - crashes inside a commit (a forked child SIGKILLed while the temp file
//     is written, and between the rename and the LATEST update): LATEST
//     always names a complete checkpoint;
//   - the output lock: a second holder is refused with the holder's pid.
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "ckpt/ckpt_dir.h"
#include "core/check.h"
#include "core/params.h"
#include "harness.h"

static char g_dir[256];

static const char *P(const char *fmt, ...) {
  static char buf[8][1024];
  static int k = 0;
  k = (k + 1) % 8;
  char rel[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rel, sizeof rel, fmt, ap);
  va_end(ap);
  snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, rel);
  return buf[k];
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

// A small store: a conv weight, a bias, a dotted ADM name, a 0-dim scalar.
static void make_params(vp_params *p) {
  params_init(p);
  params_add(p, 4, (int64_t[]){4, 3, 3, 3}, "input_blocks.0.0.weight");
  params_add(p, 1, (int64_t[]){4}, "input_blocks.0.0.bias");
  params_add(p, 2, (int64_t[]){5, 4}, "time_embed.0.weight");
  params_add(p, 0, NULL, "logit_scale");
  params_alloc(p);
}

typedef struct bufs {
  float *params, *ema, *m, *v;
} bufs;

static void fill(bufs *b, const vp_params *p, uint64_t seed) {
  size_t n = p->numel;
  b->params = p->data;
  b->ema = vp_malloc(n * sizeof(float));
  b->m = vp_malloc(n * sizeof(float));
  b->v = vp_malloc(n * sizeof(float));
  th_fill_uniform(p->data, (int64_t)n, seed, -1, 1);
  th_fill_uniform(b->ema, (int64_t)n, seed + 1, -1, 1);
  th_fill_uniform(b->m, (int64_t)n, seed + 2, -1e-3f, 1e-3f);
  th_fill_uniform(b->v, (int64_t)n, seed + 3, 0, 1e-6f);
  b->v[3] = 1e-30f;  // a denormal-range value must survive bit for bit
}

static void free_bufs(bufs *b) {
  free(b->ema);
  free(b->m);
  free(b->v);
}

static vp_ckpt_meta meta_of(int64_t step, int ema) {
  vp_ckpt_meta m;
  memset(&m, 0, sizeof m);
  m.step = step;
  m.world_size = 3;
  m.threads = 2;
  m.has_ema = ema;
  snprintf(m.model, sizeof m.model, "tiny_ddpm");
  snprintf(m.stage, sizeof m.stage, "diffusion");
  snprintf(m.git, sizeof m.git, "abc123");
  snprintf(m.device, sizeof m.device, "cpu");
  m.config = (char *)"seed: 7\ntrain:\n  lr: 0.001\n";
  return m;
}

static vp_ckpt_state state_of(int64_t step) {
  vp_ckpt_state s = {.data_epoch = 2, .data_cursor = 17, .seed = (UINT64_C(1) << 55) + 5, .lr_step = step,
                     .optim_t = step - 1, .ema_updates = step - 1, .nan_in_row = 1, .nan_skipped = 1,
                     .global_batch = 6, .grad_accum = 2};
  return s;
}

static void write_ckpt(const char *path, const vp_params *p, const bufs *b, int64_t step, int ema) {
  vp_ckpt_meta m = meta_of(step, ema);
  vp_ckpt_state s = state_of(step);
  vp_ckpt_buffers cb = {b->params, ema ? b->ema : NULL, b->m, b->v};
  ckpt_write(path, &m, &s, p, &cb);
}

// Runs fn(arg) in a child with stderr captured; returns its exit status
// (-signal when killed) and the captured text in msg.
static int run_child(void (*fn)(void *), void *arg, char *msg, size_t n) {
  const char *errpath = P("child_stderr.txt");
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 2);
    fn(arg);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  msg[0] = 0;
  FILE *f = fopen(errpath, "r");
  if (f) {
    size_t k = fread(msg, 1, n - 1, f);
    msg[k] = 0;
    fclose(f);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

// ---------------------------------------------------------------- round trip

static void test_roundtrip(void) {
  vp_params p;
  make_params(&p);
  bufs b;
  fill(&b, &p, 11);
  char *path = vp_strdup(P("rt.h5"));
  write_ckpt(path, &p, &b, 42, 1);

  vp_ckpt_meta m;
  vp_ckpt_state s;
  ckpt_read_header(path, &m, &s);
  vp_ckpt_state want = state_of(42);
  th_check(m.step == 42 && m.world_size == 3 && m.threads == 2 && m.has_ema == 1, "meta numbers");
  th_check(strcmp(m.model, "tiny_ddpm") == 0 && strcmp(m.stage, "diffusion") == 0 && strcmp(m.git, "abc123") == 0 &&
               strcmp(m.device, "cpu") == 0,
           "meta strings");
  th_check(m.config && strcmp(m.config, "seed: 7\ntrain:\n  lr: 0.001\n") == 0, "config text round trip");
  th_check(memcmp(&s, &want, sizeof s) == 0, "state round trip (seed %llu)", (unsigned long long)s.seed);
  ckpt_meta_free(&m);

  vp_params q;
  make_params(&q);
  float *ema = vp_calloc(q.numel, sizeof(float)), *mm = vp_calloc(q.numel, sizeof(float)),
        *vv = vp_calloc(q.numel, sizeof(float));
  vp_ckpt_buffers cb = {q.data, ema, mm, vv};
  ckpt_read_tensors(path, &q, &cb);
  const size_t bytes = p.numel * sizeof(float);
  th_check(memcmp(q.data, p.data, bytes) == 0, "params bit for bit");
  th_check(memcmp(ema, b.ema, bytes) == 0, "ema bit for bit");
  th_check(memcmp(mm, b.m, bytes) == 0, "adam m bit for bit");
  th_check(memcmp(vv, b.v, bytes) == 0, "adam v bit for bit");

  int64_t tensors = 0, numel = 0;
  int np = ckpt_verify(path, stderr, &tensors, &numel);
  th_check(np == 0 && tensors == 4 && numel == (int64_t)p.numel, "verify: %d problems, %lld tensors, %lld values", np,
           (long long)tensors, (long long)numel);

  // The layout as another HDF5 reader (h5py) sees it.
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  th_check(f >= 0, "H5Fopen");
  hid_t ds = H5Dopen2(f, "/optim/v/time_embed.0.weight", H5P_DEFAULT);
  hid_t sp = H5Dget_space(ds), ty = H5Dget_type(ds);
  hsize_t dims[4] = {0};
  int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
  th_check(nd == 2 && dims[0] == 5 && dims[1] == 4, "dataset shape (5, 4)");
  th_check(H5Tequal(ty, H5T_IEEE_F32LE) > 0, "dataset is float32 little-endian");
  H5Tclose(ty);
  H5Sclose(sp);
  H5Dclose(ds);
  ds = H5Dopen2(f, "/params/logit_scale", H5P_DEFAULT);
  sp = H5Dget_space(ds);
  th_check(H5Sget_simple_extent_type(sp) == H5S_SCALAR, "0-dim parameter is a scalar dataset");
  H5Sclose(sp);
  H5Dclose(ds);
  hid_t a = H5Aopen_by_name(f, "/meta", "format", H5P_DEFAULT, H5P_DEFAULT);
  ty = H5Aget_type(a);
  th_check(H5Tget_class(ty) == H5T_STRING && H5Tis_variable_str(ty) > 0, "format is a variable-length string");
  H5Tclose(ty);
  H5Aclose(a);
  H5Fclose(f);

  // Without EMA: no /ema group, and still complete.
  char *p2 = vp_strdup(P("noema.h5"));
  write_ckpt(p2, &p, &b, 7, 0);
  np = ckpt_verify(p2, stderr, &tensors, &numel);
  th_check(np == 0, "verify without EMA: %d problems", np);
  char why[256];
  vp_ckpt_file *cf = ckpt_open(p2, why, sizeof why);
  int n = 0;
  char **names = ckpt_names(cf, "ema", &n);
  th_check(names == NULL && n == -1, "no /ema group when EMA is off");
  names = ckpt_names(cf, "params", &n);
  th_check(n == 4 && strcmp(names[0], "input_blocks.0.0.bias") == 0 && strcmp(names[3], "time_embed.0.weight") == 0,
           "names sorted");
  ckpt_names_free(names, n);
  ckpt_close(cf);

  free(ema);
  free(mm);
  free(vv);
  params_free(&q);
  free_bufs(&b);
  params_free(&p);
  free(path);
  free(p2);
}

// ---------------------------------------------------------------- damage

typedef struct read_arg {
  const char *path;
  int ndim;  // shape of the model's first parameter (a mismatch test changes it)
} read_arg;

static void child_read(void *arg) {
  read_arg *r = arg;
  vp_params q;
  params_init(&q);
  if (r->ndim == 4)
    params_add(&q, 4, (int64_t[]){4, 3, 3, 3}, "input_blocks.0.0.weight");
  else
    params_add(&q, 2, (int64_t[]){4, 27}, "input_blocks.0.0.weight");
  params_add(&q, 1, (int64_t[]){4}, "input_blocks.0.0.bias");
  params_add(&q, 2, (int64_t[]){5, 4}, "time_embed.0.weight");
  params_add(&q, 0, NULL, "logit_scale");
  params_alloc(&q);
  float *x = vp_calloc(q.numel * 3, sizeof(float));
  vp_ckpt_buffers cb = {q.data, x, x + q.numel, x + 2 * q.numel};
  ckpt_read_tensors(r->path, &q, &cb);
  exit(0);
}

static void copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
  VP_ASSERT(a && b);
  char buf[65536];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, a)) > 0) VP_ASSERT(fwrite(buf, 1, k, b) == k);
  fclose(a);
  fclose(b);
}

static void test_damage(void) {
  vp_params p;
  make_params(&p);
  bufs b;
  fill(&b, &p, 5);
  char *good = vp_strdup(P("good.h5"));
  write_ckpt(good, &p, &b, 10, 1);
  char msg[4096];
  int64_t t, n;

  // A flipped byte in the data of /optim/m/time_embed.0.weight.
  char *flip = vp_strdup(P("flip.h5"));
  copy_file(good, flip);
  hid_t f = H5Fopen(flip, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t ds = H5Dopen2(f, "/optim/m/time_embed.0.weight", H5P_DEFAULT);
  haddr_t off = H5Dget_offset(ds);
  H5Dclose(ds);
  H5Fclose(f);
  th_check(off != HADDR_UNDEF, "dataset offset");
  int fd = open(flip, O_RDWR);
  unsigned char byte = 0;
  th_check(pread(fd, &byte, 1, (off_t)off + 9) == 1, "read byte");
  byte ^= 0x10;
  th_check(pwrite(fd, &byte, 1, (off_t)off + 9) == 1, "write byte");
  close(fd);
  FILE *devnull = fopen("/dev/null", "w");
  th_check(ckpt_verify(flip, devnull, &t, &n) == 1, "verify finds the flipped byte");
  read_arg ra = {flip, 4};
  int rc = run_child(child_read, &ra, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "/optim/m/time_embed.0.weight fails its checksum"), "read refuses damage: rc %d: %s",
           rc, msg);

  // Truncated to half: not even an HDF5 file any more.
  char *trunc = vp_strdup(P("trunc.h5"));
  copy_file(good, trunc);
  struct stat st;
  stat(trunc, &st);
  th_check(truncate(trunc, st.st_size / 2) == 0, "truncate");
  th_check(ckpt_verify(trunc, devnull, &t, &n) >= 1, "verify reports a truncated file");
  ra.path = trunc;
  rc = run_child(child_read, &ra, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "not a readable HDF5 file"), "read refuses truncation: rc %d: %s", rc, msg);

  // A missing tensor and a missing state attribute.
  char *miss = vp_strdup(P("missing.h5"));
  copy_file(good, miss);
  f = H5Fopen(miss, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "/optim/v/input_blocks.0.0.bias", H5P_DEFAULT);
  H5Adelete_by_name(f, "/state", "data_cursor", H5P_DEFAULT);
  H5Fclose(f);
  FILE *rep = tmpfile();
  int np = ckpt_verify(miss, rep, &t, &n);
  rewind(rep);
  size_t k = fread(msg, 1, sizeof msg - 1, rep);
  msg[k] = 0;
  fclose(rep);
  th_check(np == 2 && strstr(msg, "/optim/v/input_blocks.0.0.bias is missing") &&
               strstr(msg, "/state attribute 'data_cursor' is missing"),
           "verify names both problems (%d): %s", np, msg);
  ra.path = miss;
  rc = run_child(child_read, &ra, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "/optim/v/input_blocks.0.0.bias is missing"), "read refuses a missing tensor: %s",
           msg);

  // A model whose parameter has another shape.
  ra.path = good;
  ra.ndim = 2;
  rc = run_child(child_read, &ra, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "input_blocks.0.0.weight has shape (4, 3, 3, 3) but the model's parameter is (4, 27)"),
           "read refuses a shape mismatch: %s", msg);
  ra.ndim = 4;
  rc = run_child(child_read, &ra, msg, sizeof msg);
  th_check(rc == 0, "the good file reads in a child (rc %d: %s)", rc, msg);

  // Not a checkpoint at all (an HDF5 file without /meta).
  char *other = vp_strdup(P("other.h5"));
  f = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(f);
  th_check(ckpt_verify(other, devnull, &t, &n) >= 2, "verify: a plain HDF5 file is not a checkpoint");
  fclose(devnull);
  free_bufs(&b);
  params_free(&p);
  free(good);
  free(flip);
  free(trunc);
  free(miss);
  free(other);
}

// ---------------------------------------------------------------- directory protocol

typedef struct commit_arg {
  const vp_params *p;
  const bufs *b;
  int64_t step;
  int die_in_write;  // child: SIGKILL itself after writing half a file
} commit_arg;

static void writer(const char *tmp, void *arg) {
  commit_arg *c = arg;
  if (c->die_in_write) {
    // A partial file, as a crash during the HDF5 write leaves it.
    FILE *f = fopen(tmp, "wb");
    fputs("\x89HDF\r\n\x1a\n partial", f);
    fflush(f);
    raise(SIGKILL);
  }
  write_ckpt(tmp, c->p, c->b, c->step, 1);
}

static void commit(const char *dir, commit_arg *c) { ckpt_dir_commit(dir, c->step, writer, c, NULL, 0); }

static void child_commit(void *arg) {
  commit_arg *c = arg;
  commit(P("ck"), c);
}

static int64_t latest_step(const char *dir) {
  char path[1024];
  if (!ckpt_dir_latest(dir, path, sizeof path)) return -1;
  return ckpt_step_of_name(path);
}

static void child_latest(void *arg) {
  latest_step((const char *)arg);
  exit(0);
}

static void test_dir(void) {
  vp_params p;
  make_params(&p);
  bufs b;
  fill(&b, &p, 3);
  char *dir = vp_strdup(P("ck"));
  ckpt_mkdirs(dir);
  th_check(latest_step(dir) == -1, "no LATEST in a new directory");
  char name[64];
  ckpt_step_name(120, name, sizeof name);
  th_check(strcmp(name, "step_00000120.h5") == 0, "step name");
  th_check(ckpt_step_of_name("/a/b/step_00000120.h5") == 120 && ckpt_step_of_name("step_120.h5") == -1 &&
               ckpt_step_of_name("step_00000120.h5.tmp") == -1 && ckpt_step_of_name("LATEST") == -1,
           "step names parse strictly");

  commit_arg c = {&p, &b, 0, 0};
  for (int64_t s = 1; s <= 9; s++) {
    c.step = s;
    commit(dir, &c);
    ckpt_dir_prune(dir, s, 2, 4);
  }
  th_check(latest_step(dir) == 9, "LATEST names step 9");
  int n = 0;
  int64_t *steps = ckpt_dir_list(dir, &n);
  th_check(n == 3 && steps[0] == 4 && steps[1] == 8 && steps[2] == 9, "kept: every 4th and the newest 2 (%d files)", n);
  free(steps);
  th_check(exists(P("ck/step_00000009.h5")) && exists(P("ck/step_00000008.h5")) && !exists(P("ck/step_00000007.h5")),
           "files on disk match");

  // A crash while the temporary file is being written: LATEST unchanged,
  // the stray temp cleaned by the next run.
  char msg[4096];
  c.step = 10;
  c.die_in_write = 1;
  int rc = run_child(child_commit, &c, msg, sizeof msg);
  th_check(rc == -SIGKILL, "child killed in the write (%d)", rc);
  th_check(latest_step(dir) == 9 && exists(P("ck/.step_00000010.h5.tmp")) && !exists(P("ck/step_00000010.h5")),
           "after a crash in the write, LATEST still names step 9");
  int64_t t, nn;
  char latest[1024];
  ckpt_dir_latest(dir, latest, sizeof latest);
  th_check(ckpt_verify(latest, stderr, &t, &nn) == 0, "LATEST's file is complete");
  th_check(ckpt_dir_clean(dir) == 1 && !exists(P("ck/.step_00000010.h5.tmp")), "stray temp file removed");

  // A crash between the rename and the LATEST update (the commit pauses
  // there when VP_CKPT_TEST_PAUSE_MS is set; the parent kills it then).
  c.die_in_write = 0;
  c.step = 11;
  setenv("VP_CKPT_TEST_PAUSE_MS", "400", 1);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    commit(dir, &c);
    _exit(0);
  }
  unsetenv("VP_CKPT_TEST_PAUSE_MS");
  for (int i = 0; i < 500 && !exists(P("ck/step_00000011.h5")); i++) sleep_ms(2);
  sleep_ms(50);  // inside the second pause: renamed, LATEST not yet
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  th_check(WIFSIGNALED(st) && exists(P("ck/step_00000011.h5")) && latest_step(dir) == 9,
           "killed after the rename: the new file exists, LATEST still names step 9");
  ckpt_dir_latest(dir, latest, sizeof latest);
  th_check(ckpt_verify(latest, stderr, &t, &nn) == 0 && ckpt_verify(P("ck/step_00000011.h5"), stderr, &t, &nn) == 0,
           "both files are complete");
  // The resumed run writes step 11 again: the rename replaces it.
  commit(dir, &c);
  th_check(latest_step(dir) == 11, "recommit publishes step 11");

  // LATEST holding garbage is refused with a message.
  FILE *f = fopen(P("ck/LATEST"), "w");
  fputs("../../etc/passwd\n", f);
  fclose(f);
  rc = run_child(child_latest, (void *)dir, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "does not name a checkpoint file"), "garbage LATEST refused: %s", msg);
  f = fopen(P("ck/LATEST"), "w");
  fputs("step_00000099.h5\n", f);
  fclose(f);
  rc = run_child(child_latest, (void *)dir, msg, sizeof msg);
  th_check(rc == 1 && strstr(msg, "step_00000099.h5, which cannot be read"), "LATEST naming a missing file: %s", msg);

  free_bufs(&b);
  params_free(&p);
  free(dir);
}

static void child_lock(void *arg) {
  ckpt_lock_out((const char *)arg);
  exit(0);
}

static void test_lock(void) {
  char *out = vp_strdup(P("out"));
  ckpt_mkdirs(out);
  int fd = ckpt_lock_out(out);
  char msg[4096];
  int rc = run_child(child_lock, (void *)out, msg, sizeof msg);
  char want[64];
  snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
  th_check(rc == 1 && strstr(msg, "another vpcast process") && strstr(msg, want), "second holder refused: %s", msg);
  ckpt_unlock_out(fd);
  rc = run_child(child_lock, (void *)out, msg, sizeof msg);
  th_check(rc == 0, "lock free after unlock (%d: %s)", rc, msg);
  free(out);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s/vpcast-test-ckpt.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(g_dir)) vp_die("mkdtemp %s: %s", g_dir, strerror(errno));
  test_roundtrip();
  test_damage();
  test_dir();
  test_lock();
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) vp_warn("could not remove %s", g_dir);
  return th_summary();
}
