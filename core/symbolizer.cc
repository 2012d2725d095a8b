#include "core/symbolizer.h"
#include "core/stack.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
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
  // Inline expansion (optional: without them every frame is reported as one).
  decltype(&dwfl_module_addrdie) addrdie;
  decltype(&dwarf_getscopes) getscopes;
  decltype(&dwarf_getscopes_die) getscopes_die;
  decltype(&dwarf_tag) tag;
  decltype(&dwarf_diename) diename;
  decltype(&dwarf_attr_integrate) attr_integrate;
  decltype(&dwarf_formudata) formudata;
  decltype(&dwarf_formstring) formstring;
  decltype(&dwarf_getsrcfiles) getsrcfiles;
  decltype(&dwarf_filesrc) filesrc;
  bool has_inline;
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
  Dl_info info;
  if (!g_self_path[0] && dladdr(reinterpret_cast<void*>(&Init), &info) && info.dli_fname)
    snprintf(g_self_path, sizeof g_self_path, "%s", info.dli_fname);
  // dlopen adds to the loader's object list under the lock that dl_iterate_phdr holds around its
  // callbacks: while a program thread is inside one (it may be waiting for this thread), this report
  // makes do with dladdr, and libdw is loaded for a later one.
  LoaderLockScope loader;
  if (!loader.ok()) return;
  g_state = 2;
  char path[4200];
  void* h = nullptr;
  const char* slash = strrchr(g_self_path, '/');
  // A private copy (RTLD_DEEPBIND: it binds to itself, never to a copy the program has).
  if (slash) {
    // libdw needs libelf: load the copy beside us first, so that libdw's dependency finds it by soname.
    snprintf(path, sizeof path, "%.*s/libelf.so.1", static_cast<int>(slash - g_self_path), g_self_path);
    dlopen(path, RTLD_NOW | RTLD_LOCAL | DeepBindFlag());
    snprintf(path, sizeof path, "%.*s/libdw.so.1", static_cast<int>(slash - g_self_path), g_self_path);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL | DeepBindFlag());
  }
  if (!h) h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL | DeepBindFlag());
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
  g_dw.has_inline = Load(h, "dwfl_module_addrdie", &g_dw.addrdie) && Load(h, "dwarf_getscopes", &g_dw.getscopes) &&
                    Load(h, "dwarf_getscopes_die", &g_dw.getscopes_die) &&
                    Load(h, "dwarf_tag", &g_dw.tag) && Load(h, "dwarf_diename", &g_dw.diename) &&
                    Load(h, "dwarf_attr_integrate", &g_dw.attr_integrate) &&
                    Load(h, "dwarf_formudata", &g_dw.formudata) &&
                    Load(h, "dwarf_formstring", &g_dw.formstring) &&
                    Load(h, "dwarf_getsrcfiles", &g_dw.getsrcfiles) && Load(h, "dwarf_filesrc", &g_dw.filesrc);
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

namespace {

// InlineName — qualified, demangled name of an inlined subroutine or subprogram DIE.
void InlineName(Dwarf_Die* die, char* out, size_t size) {
  Dwarf_Attribute attr;
  const char* link = nullptr;
  if (g_dw.attr_integrate(die, DW_AT_linkage_name, &attr) ||
      g_dw.attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
    link = g_dw.formstring(&attr);
  if (link) {
    Demangle(link, out, size);
    return;
  }
  const char* name = g_dw.diename(die);
  if (!name && g_dw.attr_integrate(die, DW_AT_name, &attr)) name = g_dw.formstring(&attr);
  snprintf(out, size, "%s", name ? name : "<inlined>");
}

}  // namespace

int SymbolizeCodeInline(uptr pc, FrameInfo* out, int max) {
  if (max <= 0) return 0;
  SymbolizeCode(pc, &out[0]);
  if (g_state != 1 || !g_dw.has_inline || max == 1) return 1;
  uptr addr = pc ? pc - 1 : 0;
  Dwfl_Module* m = ModuleFor(addr);
  if (!m) return 1;
  Dwarf_Addr bias = 0;
  Dwarf_Die* cudie = g_dw.addrdie(m, addr, &bias);
  if (!cudie) return 1;
  Dwarf_Die* scopes = nullptr;
  int ns = g_dw.getscopes(cudie, addr - bias, &scopes);
  if (ns <= 0) return 1;
  // dwarf_getscopes continues into an inline's abstract definition; the concrete nesting (which
  // function each inline instance sits in) comes from the innermost scope's DIE, as eu-addr2line does.
  Dwarf_Die innermost = scopes[0];
  free(scopes);
  scopes = nullptr;
  ns = g_dw.getscopes_die(&innermost, &scopes);
  if (ns <= 0) return 1;
  Dwarf_Files* files = nullptr;
  size_t nfiles = 0;
  g_dw.getsrcfiles(cudie, &files, &nfiles);
  // scopes[0] is innermost. Each inlined subroutine is a frame of its own; its call site is the
  // location of the frame that contains it.
  FrameInfo outer = out[0];  // the real (outermost) frame: symbol name, module
  int k = 0;
  for (int i = 0; i < ns && k + 1 < max; i++) {
    if (g_dw.tag(&scopes[i]) != DW_TAG_inlined_subroutine) continue;
    FrameInfo& f = out[k];  // out[0], or the call-site frame the previous inline prepared
    InlineName(&scopes[i], f.function, sizeof f.function);
    // The next frame's location is this inline's call site.
    FrameInfo& caller = out[k + 1];
    caller = outer;
    Dwarf_Attribute attr;
    Dwarf_Word file = 0, line = 0;
    if (g_dw.attr_integrate(&scopes[i], DW_AT_call_file, &attr) && g_dw.formudata(&attr, &file) == 0 &&
        files && file < nfiles) {
      const char* fname = g_dw.filesrc(files, file, nullptr, nullptr);
      snprintf(caller.file, sizeof caller.file, "%s", fname ? fname : "");
    }
    if (g_dw.attr_integrate(&scopes[i], DW_AT_call_line, &attr) && g_dw.formudata(&attr, &line) == 0)
      caller.line = static_cast<int>(line);
    k++;
  }
  free(scopes);
  if (k == 0) return 1;
  // out[k] is the outermost (real) function, with the symbol's name.
  snprintf(out[k].function, sizeof out[k].function, "%s", outer.function);
  return k + 1;
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
