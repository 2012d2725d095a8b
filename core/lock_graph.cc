#include "core/lock_graph.h"

#include <algorithm>

namespace locksan {

u64 NodeKeyOf(const Node* n) { return n->id; }
u64 EdgeKeyOf(const Edge* e) { return LockGraph::EdgeKey(e->from->id, e->to->id); }

LockGraph::~LockGraph() {
  edges_.ForEach([](Edge* e) { InternalDelete(e); });
  nodes_.ForEach([](Node* n) { InternalDelete(n); });
}

u32 LockGraph::NewMark() {
  if (++mark_ == 0) {  // wrapped: clear every mark once
    nodes_.ForEach([](Node* n) { n->mark = 0; });
    mark_ = 1;
  }
  return mark_;
}

Node* LockGraph::GetNode(u64 id) {
  if (Node* n = nodes_.Find(id)) return n;
  Node* n = InternalNew<Node>();
  n->id = id;
  n->ord = next_ord_++;
  nodes_.Insert(n);
  node_bytes_ += sizeof(Node);
  return n;
}

Edge* LockGraph::LookupEdge(u64 from, u64 to) {
  Edge* e = edges_.Find(EdgeKey(from, to));
  if (!e) return nullptr;
  // A 64-bit key collision between two different pairs is not expected; be exact anyway.
  if (e->from->id != from || e->to->id != to) return nullptr;
  return e;
}

Edge* LockGraph::FindEdge(u64 from, u64 to) { return LookupEdge(from, to); }

namespace {

// Merge — folds one occurrence into the stored facts. Returns true if the merge weakened the edge in a
// way that can make a cycle reportable (new modes, fewer common gates; a second thread when
// `threads_matter`, i.e. a cycle predicate looks at it).
bool Merge(EdgeFacts* f, const EdgeFacts& n, bool threads_matter) {
  bool changed = false;
  if ((f->modes | n.modes) != f->modes) {
    f->modes |= n.modes;
    changed = true;
  }
  if (n.thread != f->thread && !f->multi_thread) {
    f->multi_thread = true;
    changed |= threads_matter;
  }
  // Intersect gates.
  u8 k = 0;
  for (u8 i = 0; i < f->ngates; i++) {
    bool keep = false;
    for (u8 j = 0; j < n.ngates; j++) keep |= (f->gates[i] == n.gates[j]);
    if (keep) f->gates[k++] = f->gates[i];
  }
  if (k != f->ngates) {
    f->ngates = k;
    changed = true;
  }
  return changed;
}

}  // namespace

bool LockGraph::MergeIfKnown(u64 from, u64 to, const EdgeFacts& n) {
  if (from == to) return true;
  Edge* e = LookupEdge(from, to);
  if (!e) return false;
  EdgeFacts* f = &e->facts;
  if ((f->modes | n.modes) != f->modes) return false;
  // Would Merge drop a gate? (Every stored gate must be among this occurrence's gates.)
  for (u8 i = 0; i < f->ngates; i++) {
    bool keep = false;
    for (u8 j = 0; j < n.ngates; j++) keep |= (f->gates[i] == n.gates[j]);
    if (!keep) return false;
  }
  if (n.thread != f->thread && !f->multi_thread) {
    // A second thread weakens the edge when a cycle predicate looks at threads: AddEdge must see it.
    if (cycle_ok_) return false;
    f->multi_thread = true;
  }
  return true;
}

AddOutcome LockGraph::AddEdge(u64 from, u64 to, const EdgeFacts& facts, bool report_gates,
                              CycleResult* cycle) {
  if (from == to) return AddOutcome::kKnown;
  if (Edge* e = LookupEdge(from, to)) {
    if (!Merge(&e->facts, facts, cycle_ok_ != nullptr)) return AddOutcome::kKnown;
    // This occurrence weakened the edge (fewer common gates, a new write mode): it is the one that
    // can make a cycle real, so its evidence is what a report must show.
    e->facts.thread = facts.thread;
    e->facts.stack_to = facts.stack_to;
    e->facts.stack_from = facts.stack_from;
    e->facts.stack_from_exact = facts.stack_from_exact;
    e->facts.aux_to = facts.aux_to;
    e->facts.aux_from = facts.aux_from;
    e->facts.py_callback = facts.py_callback;
    e->facts.driver_to = facts.driver_to;
    e->facts.driver_from = facts.driver_from;
    if (!e->back && back_edges_ == 0) return AddOutcome::kAdded;  // no cycle in the plain graph
    return FindRealCycle(e, report_gates, cycle) ? AddOutcome::kCycle : AddOutcome::kAdded;
  }
  if (edges_.Find(EdgeKey(from, to))) return AddOutcome::kKnown;  // key collision: give up on it
  Node* a = GetNode(from);
  Node* b = GetNode(to);
  Edge* e = InternalNew<Edge>();
  edge_bytes_ += sizeof(Edge);
  e->from = a;
  e->to = b;
  e->facts = facts;
  e->facts.multi_thread = false;
  e->out_index = a->out.size();
  a->out.push_back(e);
  e->in_index = b->in.size();
  b->in.push_back(e);
  edges_.Insert(e);
  bool had_back_edges = back_edges_ > 0;
  if (!InsertOrdered(e)) {
    e->back = true;
    back_edges_++;
  }
  if (!e->back && !had_back_edges) return AddOutcome::kAdded;
  return FindRealCycle(e, report_gates, cycle) ? AddOutcome::kCycle : AddOutcome::kAdded;
}

bool LockGraph::InsertOrdered(Edge* e) {
  Node* x = e->from;
  Node* y = e->to;
  if (x->ord < y->ord) return true;  // consistent with the order: nothing to do
  // A source (no edge into x) can go before every node, a sink (no edge out of y but e) after every
  // node: no search, and no path y ~> x can exist. This is the common case of a new lock whose first
  // edge goes to an older lock (a new heap mutex held while the thread re-takes the GIL): without it,
  // the search visits every successor of y placed before x, e.g. every lock the GIL was held over.
  if (x->in.empty()) {
    x->ord = front_ord_--;
    return true;
  }
  if (y->out.empty()) {
    y->ord = next_ord_++;
    return true;
  }
  searches_++;
  u64 lb = y->ord, ub = x->ord;
  // Forward search from y within ord <= ub over ordered edges.
  SmallVec<Node*, 16> fwd, bwd, stack;
  u32 mf = NewMark();
  stack.push_back(y);
  y->mark = mf;
  bool cycle = false;
  while (!stack.empty() && !cycle) {
    Node* n = stack.back();
    stack.pop_back();
    fwd.push_back(n);
    visited_++;
    for (Edge* o : n->out) {
      if (o->back || o == e) continue;
      Node* w = o->to;
      if (w == x) {
        cycle = true;
        break;
      }
      if (w->mark != mf && w->ord < ub) {
        w->mark = mf;
        stack.push_back(w);
      }
    }
  }
  if (cycle) return false;
  // Backward search from x within ord >= lb.
  u32 mb = NewMark();
  stack.clear();
  stack.push_back(x);
  x->mark = mb;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    bwd.push_back(n);
    visited_++;
    for (Edge* i : n->in) {
      if (i->back || i == e) continue;
      Node* w = i->from;
      if (w->mark != mb && w->ord > lb) {
        w->mark = mb;
        stack.push_back(w);
      }
    }
  }
  // Reassign: the backward set goes first, then the forward set, reusing their ord values.
  auto by_ord = [](Node* p, Node* q) { return p->ord < q->ord; };
  std::sort(fwd.begin(), fwd.end(), by_ord);
  std::sort(bwd.begin(), bwd.end(), by_ord);
  SmallVec<u64, 32> ords;
  for (Node* n : bwd) ords.push_back(n->ord);
  for (Node* n : fwd) ords.push_back(n->ord);
  std::sort(ords.begin(), ords.end());
  u32 k = 0;
  for (Node* n : bwd) n->ord = ords[k++];
  for (Node* n : fwd) n->ord = ords[k++];
  return true;
}

namespace {

struct SearchState {
  Node* node;
  Edge* via;      // edge that led here (nullptr for the start)
  u32 parent;     // index of the previous state
  u8 to_write;    // the edge that led here may want its lock for write
  u8 mask;        // which of the new edge's gates are still common to every edge so far
};

u8 GateBits(const EdgeFacts& start, const EdgeFacts& f) {
  u8 bits = 0;
  for (u8 i = 0; i < start.ngates; i++)
    for (u8 j = 0; j < f.ngates; j++)
      if (start.gates[i] == f.gates[j]) bits |= static_cast<u8>(1u << i);
  return bits;
}

}  // namespace

bool LockGraph::FindRealCycle(Edge* e, bool report_gates, CycleResult* out) {
  // The cycle is e = A->B followed by a path B ~> A. Search states (node, to_write, mask).
  searches_++;
  Node* a = e->from;
  const EdgeFacts& f0 = e->facts;
  u8 full = 0;
  for (u8 i = 0; i < f0.ngates; i++)
    if (!gate_ok_ || gate_ok_(f0.gates[i], gate_ctx_)) full |= static_cast<u8>(1u << i);
  PtrVec<SearchState> q;
  FlatMap<u8> seen;
  auto key = [](Node* n, u8 w, u8 m) { return (n->id << 6 | static_cast<u64>(w) << 5 | m) + 1; };
  q.push_back({e->to, e, 0, static_cast<u8>((f0.modes & kToWantWrite) != 0), full});
  seen.Insert(key(e->to, q[0].to_write, full), 1);
  bool found_any = false;
  for (u32 head = 0; head < q.size(); head++) {
    SearchState s = q[head];
    visited_++;
    for (Edge* o : s.node->out) {
      if (o == e) continue;
      if (o->to == a) found_any = true;  // a cycle in the plain graph, reportable or not
      // rwlock rule at s.node: the waiter wants it for write, or the holder holds it for write.
      if (!s.to_write && !(o->facts.modes & kFromHeldWrite)) continue;
      u8 mask = s.mask & GateBits(f0, o->facts);
      u8 w = (o->facts.modes & kToWantWrite) != 0;
      Node* t = o->to;
      if (t == a) {
        // Close the cycle at A with the new edge's hold mode.
        if (!w && !(f0.modes & kFromHeldWrite)) continue;
        if (mask != 0 && !report_gates) continue;
        // Reconstruct: e, then the path.
        PtrVec<Edge*> rev;
        rev.push_back(o);
        for (u32 i = head; i != 0; i = q[i].parent) rev.push_back(q[i].via);
        out->edges.clear();
        out->edges.push_back(e);
        for (u32 i = rev.size(); i-- > 0;) out->edges.push_back(rev[i]);
        if (cycle_ok_ && !cycle_ok_(out->edges.begin(), out->edges.size(), cycle_ctx_)) {
          out->edges.clear();
          continue;
        }
        out->common_gate = mask ? f0.gates[__builtin_ctz(mask)] : 0;
        return true;
      }
      u64 k = key(t, w, mask);
      if (seen.Find(k)) continue;
      seen.Insert(k, 1);
      q.push_back({t, o, head, w, mask});
    }
  }
  out->gated_cycle_skipped = found_any;
  return false;
}

bool LockGraph::Recheck(u64 from, u64 to, bool report_gates, CycleResult* cycle) {
  Edge* e = LookupEdge(from, to);
  if (!e || (!e->back && back_edges_ == 0)) return false;
  return FindRealCycle(e, report_gates, cycle);
}

void LockGraph::Unlink(Edge* e) {
  Node* a = e->from;
  Node* b = e->to;
  a->out.SwapRemove(e->out_index);
  if (e->out_index < a->out.size()) a->out[e->out_index]->out_index = e->out_index;
  b->in.SwapRemove(e->in_index);
  if (e->in_index < b->in.size()) b->in[e->in_index]->in_index = e->in_index;
  edges_.Erase(EdgeKey(a->id, b->id));
  if (e->back) back_edges_--;
  edge_bytes_ -= sizeof(Edge);
  InternalDelete(e);
}

void LockGraph::RemoveNode(u64 id) {
  Node* n = nodes_.Find(id);
  if (!n) return;
  while (!n->out.empty()) Unlink(n->out.back());
  while (!n->in.empty()) Unlink(n->in.back());
  nodes_.Erase(id);
  node_bytes_ -= sizeof(Node);
  InternalDelete(n);
}

bool LockGraph::Reachable(u64 from, u64 to) {
  Node* na = nodes_.Find(from);
  Node* nb = nodes_.Find(to);
  if (!na || !nb) return false;
  u32 m = NewMark();
  PtrVec<Node*> stack;
  stack.push_back(na);
  na->mark = m;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (Edge* o : n->out) {
      if (o->to == nb) return true;
      if (o->to->mark != m) {
        o->to->mark = m;
        stack.push_back(o->to);
      }
    }
  }
  return false;
}

bool LockGraph::CheckOrder() {
  bool ok = true;
  edges_.ForEach([&](Edge* e) {
    if (!e->back && e->from->ord >= e->to->ord) ok = false;
  });
  return ok;
}

size_t LockGraph::MemoryBytes() const {
  size_t adj = 0;
  nodes_.ForEach([&](Node* n) { adj += n->out.MemoryBytes() + n->in.MemoryBytes(); });
  return edge_bytes_ + node_bytes_ + adj + nodes_.MemoryBytes() + edges_.MemoryBytes();
}

}  // namespace locksan
