// cmd_version.c: `vpcast version [--json]`: version, git hash and the
// backends compiled in, with the library versions that are cheap to query
// (no MPI_Init, no CUDA context). Bug reports start from this output.
#include <stdio.h>
#include <string.h>

#include <cblas.h>
#include <hdf5.h>
#include <netcdf.h>
#include <png.h>
#include <yaml.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef VP_HAVE_MPI
#include <mpi.h>
#endif
#ifdef VP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif
#ifdef VP_HAVE_CUDNN
#include <cudnn.h>
#endif
#ifdef VP_HAVE_NCCL
#include <nccl.h>
#endif

#include "cli/cli.h"

const vp_option opts_version[] = {
    {.key = "json", .type = OPT_BOOL, .def = "false", .flag = "--json", .cli_only = 1,
     .help = "print as one JSON object"},
    OPT_END,
};

typedef struct {
  const char *name;
  int enabled;
  char version[64];   // short version ("0.3.21"), "" when unknown
  char detail[320];   // longer description, may be ""
} backend;

// Copy of s up to the first of the stop strings (or the end), trimmed.
static void copy_until(char *dst, size_t n, const char *s, const char *const *stops, int nstops) {
  size_t len = strlen(s);
  for (int i = 0; i < nstops; i++) {
    const char *p = strstr(s, stops[i]);
    if (p && (size_t)(p - s) < len) len = (size_t)(p - s);
  }
  while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n')) len--;
  snprintf(dst, n, "%.*s", (int)len, s);
}

static int collect(backend *b) {
  int n = 0;

  b[n] = (backend){.name = "openmp"};
#ifdef _OPENMP
  {
    b[n].enabled = 1;
    static const struct { int date; const char *ver; } omp_vers[] = {
        {201107, "3.1"}, {201307, "4.0"}, {201511, "4.5"}, {201811, "5.0"}, {202011, "5.1"}, {202111, "5.2"}};
    snprintf(b[n].version, sizeof b[n].version, "%d", _OPENMP);
    for (size_t i = 0; i < sizeof omp_vers / sizeof *omp_vers; i++)
      if (omp_vers[i].date == _OPENMP) snprintf(b[n].version, sizeof b[n].version, "%s", omp_vers[i].ver);
    snprintf(b[n].detail, sizeof b[n].detail, "_OPENMP %d, %d threads", _OPENMP, omp_get_max_threads());
  }
#endif
  n++;

  b[n] = (backend){.name = "blas", .enabled = 1};
  {
    const char *cfg = openblas_get_config();
    if (cfg) {
      snprintf(b[n].detail, sizeof b[n].detail, "%s", cfg);
      // "OpenBLAS 0.3.21 NO_AFFINITY ..." -> "0.3.21"
      if (strncmp(cfg, "OpenBLAS ", 9) == 0) {
        static const char *const sp[] = {" "};
        copy_until(b[n].version, sizeof b[n].version, cfg + 9, sp, 1);
      }
    }
  }
  n++;

  b[n] = (backend){.name = "mpi"};
#ifdef VP_HAVE_MPI
  {
    // Both calls are allowed before MPI_Init.
    b[n].enabled = 1;
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0, v = 0, sv = 0;
    if (MPI_Get_library_version(lib, &len) == MPI_SUCCESS) {
      lib[len < MPI_MAX_LIBRARY_VERSION_STRING ? len : MPI_MAX_LIBRARY_VERSION_STRING - 1] = 0;
      static const char *const stops[] = {",", "\n"};
      copy_until(b[n].version, sizeof b[n].version, lib, stops, 2);
      static const char *const line_end[] = {"\n"};
      char first[256];
      copy_until(first, sizeof first, lib, line_end, 1);
      if (MPI_Get_version(&v, &sv) == MPI_SUCCESS)
        snprintf(b[n].detail, sizeof b[n].detail, "MPI %d.%d; %s", v, sv, first);
      else
        snprintf(b[n].detail, sizeof b[n].detail, "%s", first);
    }
  }
#endif
  n++;

  b[n] = (backend){.name = "hdf5", .enabled = 1};
  {
    unsigned maj = 0, min = 0, rel = 0;
    if (H5get_libversion(&maj, &min, &rel) >= 0)
      snprintf(b[n].version, sizeof b[n].version, "%u.%u.%u", maj, min, rel);
    snprintf(b[n].detail, sizeof b[n].detail, "headers %d.%d.%d", H5_VERS_MAJOR, H5_VERS_MINOR,
             H5_VERS_RELEASE);
  }
  n++;

  b[n] = (backend){.name = "netcdf", .enabled = 1};
  {
    const char *v = nc_inq_libvers();  // "4.9.0 of Jan  1 2023 00:00:00 $"
    if (v) {
      static const char *const stops[] = {" of ", " "};
      copy_until(b[n].version, sizeof b[n].version, v, stops, 2);
      const char *of = strstr(v, " of ");
      static const char *const dollar[] = {" $"};
      if (of) {
        char built[128];
        copy_until(built, sizeof built, of + 4, dollar, 1);
        snprintf(b[n].detail, sizeof b[n].detail, "built %s", built);
      }
    }
  }
  n++;

  b[n] = (backend){.name = "cuda"};
#ifdef VP_HAVE_CUDA
  b[n].enabled = 1;
  snprintf(b[n].version, sizeof b[n].version, "%d.%d", CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10);
  snprintf(b[n].detail, sizeof b[n].detail, "CUDA runtime headers %d", CUDART_VERSION);
#endif
  n++;

  b[n] = (backend){.name = "cudnn"};
#ifdef VP_HAVE_CUDNN
  b[n].enabled = 1;
  snprintf(b[n].version, sizeof b[n].version, "%d.%d.%d", CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL);
  snprintf(b[n].detail, sizeof b[n].detail, "headers");
#endif
  n++;

  b[n] = (backend){.name = "nccl"};
#ifdef VP_HAVE_NCCL
  b[n].enabled = 1;
  snprintf(b[n].version, sizeof b[n].version, "%d.%d.%d", NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH);
  snprintf(b[n].detail, sizeof b[n].detail, "headers, NCCL_VERSION_CODE %d", NCCL_VERSION_CODE);
#endif
  n++;

  b[n] = (backend){.name = "png", .enabled = 1};
  {
    const char *v = png_get_libpng_ver(NULL);
    if (v) snprintf(b[n].version, sizeof b[n].version, "%s", v);
    snprintf(b[n].detail, sizeof b[n].detail, "headers %s", PNG_LIBPNG_VER_STRING);
  }
  n++;

  b[n] = (backend){.name = "yaml", .enabled = 1};
  {
    const char *v = yaml_get_version_string();
    if (v) snprintf(b[n].version, sizeof b[n].version, "%s", v);
  }
  n++;
  return n;
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", f);
    else if (*p == '\t')
      fputs("\\t", f);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

int cmd_version(const cli_invocation *inv) {
  vp_config *cfg;
  int rc = cli_load_config(inv, NULL, opts_version, &cfg);
  if (rc) return rc;
  int json = cfg_bool(cfg, "json");
  cfg_free(cfg);

  backend b[16];
  int n = collect(b);
  if (json) {
    printf("{\"name\": \"vpcast\", \"version\": ");
    json_str(stdout, VP_VERSION);
    printf(", \"git\": ");
    json_str(stdout, VP_GIT_HASH);
    printf(", \"backends\": {");
    for (int i = 0; i < n; i++) {
      printf("%s\"%s\": {\"enabled\": %s", i ? ", " : "", b[i].name, b[i].enabled ? "true" : "false");
      if (b[i].enabled) {
        printf(", \"version\": ");
        json_str(stdout, b[i].version);
        printf(", \"detail\": ");
        json_str(stdout, b[i].detail);
      }
      printf("}");
    }
    printf("}}\n");
  } else {
    printf("vpcast %s (git %s)\nbackends:\n", VP_VERSION, VP_GIT_HASH);
    for (int i = 0; i < n; i++) {
      if (!b[i].enabled) {
        printf("  %-8s no\n", b[i].name);
        continue;
      }
      printf("  %-8s yes  %s", b[i].name, b[i].version[0] ? b[i].version : "(version unknown)");
      if (b[i].detail[0]) printf("  [%s]", b[i].detail);
      printf("\n");
    }
  }
  if (fflush(stdout) != 0) {
    perror("vpcast: writing to stdout");
    return CLI_EXIT_ERROR;
  }
  return CLI_EXIT_OK;
}
