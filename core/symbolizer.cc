#include "core/symbolizer.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace locksan {
namespace {

struct DwApi {
  decltype(&dwfl_begin) begin;
  decltype(&dwfl_end) end;
  decltype(&dwfl_linux_proc_report) proc_report;
  decltype(&dwfl_report_begin) report_begin;
  decltype(&dwfl_report_end) report_end;
  decltype(&dwfl_addrmodule) addrmodule;
  decltype(&dwfl_module_addrinfo) addrinfo;
  decltype(&dwfl_module_getsrc) getsrc;
  decltype(&dwfl_lineinfo) lineinfo;
  decltype(&dwfl_module_info) module_info;
  decltype(&dwfl_linux_proc_find_elf) find_elf;
  decltype(&dwfl_standard_find_debuginfo) find_debuginfo;
};

DwApi g_dw;
int g_state = 0;  // 0 untried, 1 libdw, 2 dladdr only
Dwfl* g_dwfl = nullptr;
Dwfl_Callbacks g_callbacks;
char* g_debuginfo_path = nullptr;
char g_self_path[4096];

template <typename T>
bool Load(void* h, const char* name, T* fn) {
  *fn = reinterpret_cast<T>(dlsym(h, name));
  return *fn != nullptr;
}

void Init() {
  if (g_state) return;
  g_state = 2;
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&Init), &info) && info.dli_fname)
    snprintf(g_self_path, sizeof g_self_path, "%s", info.dli_fname);
  char path[4200];
  void* h = nullptr;
  const char* slash = strrchr(g_self_path, '/');
  if (slash) {
    snprintf(path, sizeof path, "%.*s/libdw.so.1", static_cast<int>(slash - g_self_path), g_self_path);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  }
  if (!h) h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return;
  bool ok = Load(h, "dwfl_begin", &g_dw.begin) && Load(h, "dwfl_end", &g_dw.end) &&
            Load(h, "dwfl_linux_proc_report", &g_dw.proc_report) &&
            Load(h, "dwfl_report_begin", &g_dw.report_begin) &&
            Load(h, "dwfl_report_end", &g_dw.report_end) &&
            Load(h, "dwfl_addrmodule", &g_dw.addrmodule) &&
            Load(h, "dwfl_module_addrinfo", &g_dw.addrinfo) &&
            Load(h, "dwfl_module_getsrc", &g_dw.getsrc) &&
            Load(h, "dwfl_lineinfo", &g_dw.lineinfo) &&
            Load(h, "dwfl_module_info", &g_dw.module_info) &&
            Load(h, "dwfl_linux_proc_find_elf", &g_dw.find_elf) &&
            Load(h, "dwfl_standard_find_debuginfo", &g_dw.find_debuginfo);
  if (!ok) return;
  g_callbacks.find_elf = g_dw.find_elf;
  g_callbacks.find_debuginfo = g_dw.find_debuginfo;
  g_callbacks.debuginfo_path = &g_debuginfo_path;
  g_state = 1;
}

// Refresh — (re)report the process's modules: libraries loaded after the last report are found.
bool Refresh() {
  if (!g_dwfl) {
    g_dwfl = g_dw.begin(&g_callbacks);
    if (!g_dwfl) return false;
  }
  g_dw.report_begin(g_dwfl);
  int rc = g_dw.proc_report(g_dwfl, getpid());
  g_dw.report_end(g_dwfl, nullptr, nullptr);
  return rc == 0;
}

Dwfl_Module* ModuleFor(uptr addr) {
  if (g_state != 1) return nullptr;
  if (!g_dwfl && !Refresh()) return nullptr;
  Dwfl_Module* m = g_dw.addrmodule(g_dwfl, addr);
  if (!m && Refresh()) m = g_dw.addrmodule(g_dwfl, addr);
  return m;
}

void Demangle(const char* name, char* out, size_t size) {
  int status = 0;
  char* d = (name[0] == '_' && name[1] == 'Z') ? abi::__cxa_demangle(name, nullptr, nullptr, &status)
                                               : nullptr;
  snprintf(out, size, "%s", d && status == 0 ? d : name);
  free(d);
}

}  // namespace

const char* SymbolizerName() {
  Init();
  return g_state == 1 ? "libdw" : "dladdr";
}

const char* ModuleBaseName(const char* path) {
  const char* s = strrchr(path, '/');
  return s ? s + 1 : path;
}

bool IsRuntimeModule(const char* module_path) {
  Init();
  return module_path[0] && g_self_path[0] && strcmp(module_path, g_self_path) == 0;
}

void SymbolizeCode(uptr pc, FrameInfo* out) {
  Init();
  out->function[0] = out->file[0] = out->module[0] = 0;
  out->line = 0;
  out->module_offset = 0;
  uptr addr = pc ? pc - 1 : 0;
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(addr), &info)) {
    if (info.dli_fname) snprintf(out->module, sizeof out->module, "%s", info.dli_fname);
    out->module_offset = addr - reinterpret_cast<uptr>(info.dli_fbase);
    if (info.dli_sname) Demangle(info.dli_sname, out->function, sizeof out->function);
  }
  if (Dwfl_Module* m = ModuleFor(addr)) {
    GElf_Off off = 0;
    GElf_Sym sym;
    const char* name = g_dw.addrinfo(m, addr, &off, &sym, nullptr, nullptr, nullptr);
    if (name) Demangle(name, out->function, sizeof out->function);
    if (Dwfl_Line* line = g_dw.getsrc(m, addr)) {
      int lineno = 0;
      const char* file = g_dw.lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr);
      if (file) {
        snprintf(out->file, sizeof out->file, "%s", file);
        out->line = lineno;
      }
    }
    if (!out->module[0]) {
      const char* mainfile = nullptr;
      Dwarf_Addr start = 0;
      g_dw.module_info(m, nullptr, &start, nullptr, nullptr, nullptr, &mainfile, nullptr);
      if (mainfile) snprintf(out->module, sizeof out->module, "%s", mainfile);
      out->module_offset = addr - start;
    }
  }
}

bool SymbolizeData(uptr addr, char* name, size_t name_size, char* module, size_t module_size,
                   uptr* offset_in_symbol) {
  Init();
  name[0] = module[0] = 0;
  *offset_in_symbol = 0;
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(addr), &info)) {
    if (info.dli_fname) snprintf(module, module_size, "%s", info.dli_fname);
    if (info.dli_sname) {
      Demangle(info.dli_sname, name, name_size);
      *offset_in_symbol = addr - reinterpret_cast<uptr>(info.dli_saddr);
    }
  }
  if (Dwfl_Module* m = ModuleFor(addr)) {
    GElf_Off off = 0;
    GElf_Sym sym;
    const char* n = g_dw.addrinfo(m, addr, &off, &sym, nullptr, nullptr, nullptr);
    if (n && off < (sym.st_size ? sym.st_size : 1)) {
      Demangle(n, name, name_size);
      *offset_in_symbol = off;
    }
  }
  return name[0] != 0;
}

}  // namespace locksan
