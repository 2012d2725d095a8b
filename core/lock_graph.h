// core/lock_graph.h — the lock-order graph.
//
// Nodes are lock ids (never reused). An edge A->B means: some thread holding A started a blocking
// acquisition of B. LockGraph keeps a dynamic topological order of its acyclic part (Pearce–Kelly),
// so that an edge consistent with the order is added in O(1) with no search; edges that close a
// cycle in the plain graph are kept as "back edges" outside the order. Reportable cycles are found by
// a search over states (lock, arrived-for-write, gates-still-common) that applies the rwlock rule and
// the gate-lock rule (see docs/design.md).
//
// Not thread-safe: the detector calls it under its graph lock. No malloc: internal memory only.
//   LockGraph g;  EdgeFacts f = ...;  CycleResult r;
//   if (g.AddEdge(a, b, f, /*report_gates=*/false, &r) == AddOutcome::kCycle) report(r.edges...)
#pragma once
#include "core/common.h"
#include "core/flat_map.h"
#include "core/ptr_map.h"
#include "core/ptr_vec.h"

namespace locksan {

constexpr int kMaxGates = 4;

// Mode bits of an edge: how `from` was held and how `to` was wanted, over all occurrences.
enum EdgeMode : u8 {
  kFromHeldWrite = 1,
  kFromHeldRead = 2,
  kToWantWrite = 4,
  kToWantRead = 8,
};

// EdgeFacts — what one occurrence of an edge tells (or, stored in an Edge, the merge of all of them).
// (80 bytes; fields ordered so that no padding is wasted.)
struct EdgeFacts {
  u8 modes = kFromHeldWrite | kToWantWrite;
  u8 ngates = 0;          // gates[0..ngates): other locks held at that moment (outermost first)
  bool gates_overflow = false;  // more locks were held than fit in gates[]
  bool multi_thread = false;
  bool stack_from_exact = false;  // stack_from was recorded at that acquisition (acquire_stacks=1)
  u32 thread = 0;         // thread number of the first occurrence
  u32 py_callback = 0;    // an edge into the GIL made to enter a Python callback: its function
                          // (core/pycallback.h; a one-frame Python stack id), 0 if none
  u64 gates[kMaxGates] = {};
  // Evidence of the first occurrence, opaque to the graph.
  u32 stack_to = 0;       // stack acquiring `to`
  u32 stack_from = 0;     // stack where `from` was acquired
  u32 aux_to = 0;         // e.g. Python stack ids
  u32 aux_from = 0;
  const char* driver_to = nullptr;    // driver API call in progress when acquiring `to`
  const char* driver_from = nullptr;  // ... when `from` was acquired
};

struct Edge;

struct Node {
  u64 id;
  u64 ord;          // position in the topological order of the acyclic part
  u32 mark;         // visit mark of the current search
  PtrVec<Edge*> out;
  PtrVec<Edge*> in;
};

struct Edge {
  Node* from;
  Node* to;
  u32 out_index;    // position in from->out
  u32 in_index;     // position in to->in
  bool back;        // closes a cycle in the plain graph: kept outside the topological order
  EdgeFacts facts;
};
static_assert(sizeof(Edge) <= 112, "an Edge fits the allocator's 112-byte class");

u64 NodeKeyOf(const Node* n);
u64 EdgeKeyOf(const Edge* e);

enum class AddOutcome {
  kKnown,     // edge existed and nothing that matters changed
  kAdded,     // new or changed edge, no reportable cycle through it
  kCycle,     // a reportable cycle through this edge: see CycleResult
};

struct CycleResult {
  // The cycle as edges: edges[0] is the new edge A->B, then B->...->A.
  PtrVec<Edge*> edges;
  bool gated_cycle_skipped = false;  // a cycle exists but every one found is gated or read-only
  // A gate lock (allowed by the gate predicate) held on every edge of `edges`, the first one in the
  // new edge's gate order; 0 when none (such a cycle is returned only with report_gates).
  u64 common_gate = 0;
};

class LockGraph {
 public:
  LockGraph() = default;
  ~LockGraph();
  LockGraph(const LockGraph&) = delete;
  LockGraph& operator=(const LockGraph&) = delete;

  // AddEdge — records one occurrence of from->to. Returns kCycle (and fills `cycle`) when this
  // occurrence creates or strengthens a reportable cycle.
  AddOutcome AddEdge(u64 from, u64 to, const EdgeFacts& facts, bool report_gates, CycleResult* cycle);

  // MergeIfKnown — when the edge from->to exists and this occurrence changes nothing that can make a
  // cycle reportable (its modes and gates are already covered), records it (a second thread) and
  // returns true: AddEdge would return kKnown and the occurrence's evidence is not needed. Otherwise
  // changes nothing and returns false. `facts` needs no evidence (stacks).
  bool MergeIfKnown(u64 from, u64 to, const EdgeFacts& facts);

  // SetGatePredicate — which lock ids may serve as gate locks when a cycle is checked (a lock only
  // one thread ever takes serialises nothing). Without one, every recorded gate counts.
  void SetGatePredicate(bool (*fn)(u64 id, void* ctx), void* ctx) {
    gate_ok_ = fn;
    gate_ctx_ = ctx;
  }

  // SetCyclePredicate — a last word on a cycle that passed the rwlock and gate rules: returning
  // false drops it and the search goes on for another cycle through the same edge. While one is
  // set, an edge seen from a second thread for the first time counts as changed (the predicate may
  // look at EdgeFacts::multi_thread).
  void SetCyclePredicate(bool (*fn)(Edge* const* edges, u32 n, void* ctx), void* ctx) {
    cycle_ok_ = fn;
    cycle_ctx_ = ctx;
  }

  // Recheck — searches again for a reportable cycle through the existing edge from->to (something
  // the cycle predicate looks at has changed). False when there is none, or no such edge.
  bool Recheck(u64 from, u64 to, bool report_gates, CycleResult* cycle);

  // RemoveNode — forgets a lock and all its edges (the lock was destroyed or its memory freed).
  void RemoveNode(u64 id);

  Edge* FindEdge(u64 from, u64 to);
  // ForEachEdge — calls f(const Edge*) for every edge, in no particular order.
  template <typename F>
  void ForEachEdge(F f) const {
    edges_.ForEach([&](const Edge* e) { f(e); });
  }
  bool HasNode(u64 id) { return nodes_.Find(id) != nullptr; }
  // IsSinkWithInEdges — the node exists, has edges into it and none out of it (such a node is on
  // no cycle).
  bool IsSinkWithInEdges(u64 id) {
    Node* n = nodes_.Find(id);
    return n && n->out.empty() && !n->in.empty();
  }

  // Reachable — is there a path from a to b over all edges (used by tests and by the watchdog).
  bool Reachable(u64 a, u64 b);

  // CheckOrder — verifies the topological-order invariant of the acyclic part (tests only).
  bool CheckOrder();

  size_t num_nodes() const { return nodes_.size(); }
  size_t num_edges() const { return edges_.size(); }
  size_t num_back_edges() const { return back_edges_; }
  size_t MemoryBytes() const;
  // Searches since start, and nodes visited by them: to measure that the common path does not search.
  u64 searches() const { return searches_; }
  u64 visited() const { return visited_; }

 private:
  Node* GetNode(u64 id);
  friend u64 EdgeKeyOf(const Edge* e);
  static u64 EdgeKey(u64 from, u64 to) { return Mix64(from * 0x9e3779b97f4a7c15ULL + to) | 1; }
  Edge* LookupEdge(u64 from, u64 to);
  bool InsertOrdered(Edge* e);  // Pearce–Kelly; false if the acyclic part has a path to->from
  bool FindRealCycle(Edge* e, bool report_gates, CycleResult* out);
  void Unlink(Edge* e);
  u32 NewMark();

  PtrMap<Node, NodeKeyOf> nodes_;  // by lock id
  // Edges by EdgeKey(from, to); a second pair with the same 64-bit key is not recorded.
  PtrMap<Edge, EdgeKeyOf> edges_;
  // Positions: new nodes go to the end (next_ord_ up); a source moved to the front takes front_ord_
  // (down). Both start in the middle of the u64 range.
  u64 next_ord_ = u64{1} << 62;
  u64 front_ord_ = (u64{1} << 62) - 1;
  u32 mark_ = 0;
  size_t back_edges_ = 0;
  u64 searches_ = 0;
  u64 visited_ = 0;
  size_t edge_bytes_ = 0;
  size_t node_bytes_ = 0;
  bool (*gate_ok_)(u64, void*) = nullptr;
  void* gate_ctx_ = nullptr;
  bool (*cycle_ok_)(Edge* const*, u32, void*) = nullptr;
  void* cycle_ctx_ = nullptr;
};

}  // namespace locksan
