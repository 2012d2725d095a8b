// Unit tests of core/lock_graph: random operation sequences checked against a brute-force model.
#include "core/lock_graph.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace locksan {
namespace {

struct ModelEdge {
  u8 modes;
  std::set<u64> gates;
};

// A brute-force model: the edge set, and exhaustive search over simple paths.
class Model {
 public:
  std::map<std::pair<u64, u64>, ModelEdge> edges;

  bool Reachable(u64 a, u64 b) const {
    std::set<u64> seen{a};
    std::vector<u64> st{a};
    while (!st.empty()) {
      u64 n = st.back();
      st.pop_back();
      for (auto& [k, e] : edges) {
        if (k.first != n) continue;
        if (k.second == b) return true;
        if (seen.insert(k.second).second) st.push_back(k.second);
      }
    }
    return false;
  }

  // Is there a simple path b ~> a that, with the edge a->b, forms a reportable cycle?
  bool RealCycle(u64 a, u64 b, bool report_gates) const {
    const ModelEdge& e0 = edges.at({a, b});
    std::vector<const ModelEdge*> path;
    std::set<u64> on_path{a, b};
    return Dfs(a, b, e0, &path, &on_path, report_gates);
  }

  void RemoveNode(u64 id) {
    for (auto it = edges.begin(); it != edges.end();)
      it = (it->first.first == id || it->first.second == id) ? edges.erase(it) : std::next(it);
  }

 private:
  bool Dfs(u64 a, u64 n, const ModelEdge& e0, std::vector<const ModelEdge*>* path, std::set<u64>* on_path,
           bool report_gates) const {
    for (auto& [k, e] : edges) {
      if (k.first != n) continue;
      if (k.second == a) {
        path->push_back(&e);
        bool ok = Check(e0, *path, report_gates);
        path->pop_back();
        if (ok) return true;
        continue;
      }
      if (on_path->count(k.second)) continue;
      on_path->insert(k.second);
      path->push_back(&e);
      bool ok = Dfs(a, k.second, e0, path, on_path, report_gates);
      path->pop_back();
      on_path->erase(k.second);
      if (ok) return true;
    }
    return false;
  }
  static bool Check(const ModelEdge& e0, const std::vector<const ModelEdge*>& path, bool report_gates) {
    std::vector<const ModelEdge*> cyc{&e0};
    cyc.insert(cyc.end(), path.begin(), path.end());
    for (size_t i = 0; i < cyc.size(); i++) {
      const ModelEdge* in = cyc[i];
      const ModelEdge* out = cyc[(i + 1) % cyc.size()];
      if (!(in->modes & kToWantWrite) && !(out->modes & kFromHeldWrite)) return false;
    }
    if (report_gates) return true;
    for (u64 g : e0.gates) {
      bool common = true;
      for (const ModelEdge* e : cyc) common &= e->gates.count(g) > 0;
      if (common) return false;
    }
    return true;
  }
};

// Validates a cycle returned by the graph: connected, closed, starts with (a,b), obeys the rules.
void ExpectValidCycle(const CycleResult& c, u64 a, u64 b, bool report_gates,
                      bool (*gate_ok)(u64 id) = nullptr) {
  ASSERT_GE(c.edges.size(), 2u);
  EXPECT_EQ(c.edges[0]->from->id, a);
  EXPECT_EQ(c.edges[0]->to->id, b);
  for (u32 i = 0; i < c.edges.size(); i++) {
    Edge* in = c.edges[i];
    Edge* out = c.edges[(i + 1) % c.edges.size()];
    EXPECT_EQ(in->to, out->from);
    EXPECT_TRUE((in->facts.modes & kToWantWrite) || (out->facts.modes & kFromHeldWrite));
  }
  // The first of the new edge's gates (that the graph's gate predicate allows) held on every edge.
  u64 first_common = 0;
  const EdgeFacts& f0 = c.edges[0]->facts;
  for (u8 g = 0; g < f0.ngates && !first_common; g++) {
    bool common = true;
    for (Edge* e : c.edges) {
      bool has = false;
      for (u8 k = 0; k < e->facts.ngates; k++) has |= e->facts.gates[k] == f0.gates[g];
      common &= has;
    }
    if (common && (!gate_ok || gate_ok(f0.gates[g]))) first_common = f0.gates[g];
  }
  EXPECT_EQ(c.common_gate, first_common) << "CycleResult::common_gate";
  if (!report_gates) EXPECT_EQ(first_common, 0u) << "gated cycle reported";
}

EdgeFacts Plain(u32 thread = 1) {
  EdgeFacts f;
  f.thread = thread;
  return f;
}

TEST(LockGraph, NewSourcesAndSinksAreOrderedWithoutSearch) {
  LockGraph g;
  CycleResult c;
  // An old lock with successors (the GIL held over other locks), then new locks whose first edge goes
  // into it (held while the GIL is re-taken): each new lock is a source, moved to the front.
  for (u64 i = 2; i < 50; i++) ASSERT_EQ(g.AddEdge(1, i, Plain(), false, &c), AddOutcome::kAdded);
  for (u64 i = 100; i < 1100; i++) ASSERT_EQ(g.AddEdge(i, 1, Plain(), false, &c), AddOutcome::kAdded);
  // A sink: an old lock with predecessors only, reached from a newer node that has predecessors.
  ASSERT_EQ(g.AddEdge(2000, 2001, Plain(), false, &c), AddOutcome::kAdded);
  ASSERT_EQ(g.AddEdge(2001, 3, Plain(), false, &c), AddOutcome::kAdded);  // 3 has no out-edges
  EXPECT_EQ(g.searches(), 0u);
  EXPECT_TRUE(g.CheckOrder());
  // The order still finds cycles through moved nodes.
  EXPECT_EQ(g.AddEdge(3, 2000, Plain(2), false, &c), AddOutcome::kCycle);
  ExpectValidCycle(c, 3, 2000, false);
  EXPECT_EQ(g.AddEdge(1, 100, Plain(2), false, &c), AddOutcome::kCycle);
  ExpectValidCycle(c, 1, 100, false);
}

TEST(LockGraph, SimpleInversion) {
  LockGraph g;
  CycleResult c;
  EXPECT_EQ(g.AddEdge(1, 2, Plain(), false, &c), AddOutcome::kAdded);
  EXPECT_EQ(g.AddEdge(1, 2, Plain(), false, &c), AddOutcome::kKnown);
  EXPECT_EQ(g.AddEdge(2, 1, Plain(2), false, &c), AddOutcome::kCycle);
  ExpectValidCycle(c, 2, 1, false);
  EXPECT_EQ(c.edges.size(), 2u);
}

TEST(LockGraph, ConsistentEdgesDoNotSearch) {
  LockGraph g;
  CycleResult c;
  // A chain built in order never needs a search: the common path is O(1).
  for (u64 i = 1; i < 10000; i++) ASSERT_EQ(g.AddEdge(i, i + 1, Plain(), false, &c), AddOutcome::kAdded);
  EXPECT_EQ(g.searches(), 0u);
  EXPECT_TRUE(g.CheckOrder());
  EXPECT_EQ(g.AddEdge(10000, 1, Plain(), false, &c), AddOutcome::kCycle);
  EXPECT_EQ(c.edges.size(), 10000u);
}

TEST(LockGraph, ReadReadCycleIsNotReported) {
  LockGraph g;
  CycleResult c;
  // T1: holds R (read) then takes M; T2: holds M then takes R for reading.
  EdgeFacts f1;
  f1.modes = kFromHeldRead | kToWantWrite;
  EdgeFacts f2;
  f2.modes = kFromHeldWrite | kToWantRead;
  EXPECT_EQ(g.AddEdge(/*R*/ 1, /*M*/ 2, f1, false, &c), AddOutcome::kAdded);
  EXPECT_EQ(g.AddEdge(2, 1, f2, false, &c), AddOutcome::kAdded);
  EXPECT_TRUE(c.gated_cycle_skipped);
  // Now R is also held for write before taking M: a writer blocks the reader: real.
  EdgeFacts f3;
  f3.modes = kFromHeldWrite | kToWantWrite;
  EXPECT_EQ(g.AddEdge(1, 2, f3, false, &c), AddOutcome::kCycle);
  ExpectValidCycle(c, 1, 2, false);
}

TEST(LockGraph, GateLockCycleOnlyWithReportGates) {
  for (bool report_gates : {false, true}) {
    LockGraph g;
    CycleResult c;
    EdgeFacts f;
    f.ngates = 1;
    f.gates[0] = 9;  // G held on both edges
    EXPECT_EQ(g.AddEdge(1, 2, f, report_gates, &c), AddOutcome::kAdded);
    EXPECT_EQ(g.AddEdge(2, 1, f, report_gates, &c), report_gates ? AddOutcome::kCycle : AddOutcome::kAdded);
    if (!report_gates) {
      // The same edge later made without the gate: the cycle becomes real.
      EdgeFacts bare;
      EXPECT_EQ(g.AddEdge(2, 1, bare, report_gates, &c), AddOutcome::kCycle);
      ExpectValidCycle(c, 2, 1, false);
    }
  }
}

// A lock that only one thread ever takes (CPython's per-thread state lock, held for a thread's
// whole life) serialises nothing: it must not hide a cycle as a gate.
TEST(LockGraph, UnsharedGateDoesNotHideCycle) {
  LockGraph g;
  g.SetGatePredicate([](u64 id, void*) { return id != 9; }, nullptr);
  CycleResult c;
  EdgeFacts f;
  f.ngates = 1;
  f.gates[0] = 9;
  EXPECT_EQ(g.AddEdge(1, 2, f, false, &c), AddOutcome::kAdded);
  EXPECT_EQ(g.AddEdge(2, 1, f, false, &c), AddOutcome::kCycle);
  ExpectValidCycle(c, 2, 1, /*report_gates=*/true, [](u64 id) { return id != 9; });
  // A shared gate (id 8) still hides it.
  LockGraph h;
  h.SetGatePredicate([](u64 id, void*) { return id != 9; }, nullptr);
  f.gates[0] = 8;
  EXPECT_EQ(h.AddEdge(1, 2, f, false, &c), AddOutcome::kAdded);
  EXPECT_EQ(h.AddEdge(2, 1, f, false, &c), AddOutcome::kAdded);
}

TEST(LockGraph, RemoveNodeForgetsEdges) {
  LockGraph g;
  CycleResult c;
  g.AddEdge(1, 2, Plain(), false, &c);
  g.RemoveNode(2);
  EXPECT_EQ(g.num_edges(), 0u);
  EXPECT_EQ(g.AddEdge(2, 1, Plain(), false, &c), AddOutcome::kAdded);  // 2 is a new lock now
}

// The cycle predicate: a rejected cycle is not the end of the search.
bool g_reject_short = true;
bool RejectTwoLockCycles(Edge* const*, u32 n, void*) { return !(g_reject_short && n == 2); }

TEST(LockGraph, CyclePredicateRejectedCycleSearchGoesOn) {
  g_reject_short = true;
  LockGraph g;
  g.SetCyclePredicate(RejectTwoLockCycles, nullptr);
  CycleResult c;
  EXPECT_EQ(g.AddEdge(2, 1, Plain(), false, &c), AddOutcome::kAdded);
  EXPECT_EQ(g.AddEdge(2, 3, Plain(), false, &c), AddOutcome::kAdded);
  EXPECT_EQ(g.AddEdge(3, 1, Plain(), false, &c), AddOutcome::kAdded);
  // 1->2 closes 1->2->1 (rejected) and 1->2->3->1 (kept).
  ASSERT_EQ(g.AddEdge(1, 2, Plain(), false, &c), AddOutcome::kCycle);
  ExpectValidCycle(c, 1, 2, false);
  EXPECT_EQ(c.edges.size(), 3u);
}

TEST(LockGraph, CyclePredicateOnlyRejected) {
  g_reject_short = true;
  LockGraph g;
  g.SetCyclePredicate(RejectTwoLockCycles, nullptr);
  CycleResult c;
  g.AddEdge(1, 2, Plain(), false, &c);
  EXPECT_EQ(g.AddEdge(2, 1, Plain(), false, &c), AddOutcome::kAdded);
  EXPECT_FALSE(g.Recheck(2, 1, false, &c));
  g_reject_short = false;  // what the predicate looks at changed
  ASSERT_TRUE(g.Recheck(2, 1, false, &c));
  ExpectValidCycle(c, 2, 1, false);
  EXPECT_FALSE(g.Recheck(5, 6, false, &c));  // no such edge
}

bool RejectSingleThread(Edge* const* edges, u32 n, void*) {
  for (u32 i = 0; i < n; i++)
    if (edges[i]->facts.multi_thread || edges[i]->facts.thread != edges[0]->facts.thread) return true;
  return false;
}

TEST(LockGraph, SecondThreadOnAnEdgeIsAChangeWithACyclePredicate) {
  CycleResult c;
  {
    LockGraph g;  // without a predicate, a second thread changes nothing
    g.AddEdge(1, 2, Plain(1), false, &c);
    EXPECT_EQ(g.AddEdge(2, 1, Plain(1), false, &c), AddOutcome::kCycle);
    EXPECT_EQ(g.AddEdge(2, 1, Plain(2), false, &c), AddOutcome::kKnown);
  }
  LockGraph g;
  g.SetCyclePredicate(RejectSingleThread, nullptr);
  g.AddEdge(1, 2, Plain(1), false, &c);
  EXPECT_EQ(g.AddEdge(2, 1, Plain(1), false, &c), AddOutcome::kAdded);
  EXPECT_EQ(g.AddEdge(2, 1, Plain(1), false, &c), AddOutcome::kKnown);
  ASSERT_EQ(g.AddEdge(2, 1, Plain(2), false, &c), AddOutcome::kCycle);
  EXPECT_TRUE(g.FindEdge(2, 1)->facts.multi_thread);
  EXPECT_EQ(g.AddEdge(2, 1, Plain(3), false, &c), AddOutcome::kKnown);  // only the first flip counts
}

// Random sequences against the brute-force model.
class LockGraphRandom : public ::testing::TestWithParam<int> {};

TEST_P(LockGraphRandom, MatchesBruteForce) {
  std::mt19937_64 rng(GetParam());
  const int kNodes = 7;
  for (int round = 0; round < 40; round++) {
    LockGraph g;
    Model m;
    bool report_gates = rng() % 4 == 0;
    for (int op = 0; op < 60; op++) {
      if (rng() % 12 == 0) {
        u64 n = 1 + rng() % kNodes;
        g.RemoveNode(n);
        m.RemoveNode(n);
        continue;
      }
      u64 a = 1 + rng() % kNodes, b = 1 + rng() % kNodes;
      if (a == b) continue;
      EdgeFacts f;
      f.modes = static_cast<u8>((rng() % 3 ? kFromHeldWrite : kFromHeldRead) |
                                (rng() % 3 ? kToWantWrite : kToWantRead));
      std::set<u64> gates;
      for (u64 gid = 100; gid < 103; gid++)
        if (rng() % 3 == 0) {
          f.gates[f.ngates++] = gid;
          gates.insert(gid);
        }
      // Expected: merge into the model.
      auto key = std::make_pair(a, b);
      bool existed = m.edges.count(key) > 0;
      bool changed = true;
      if (existed) {
        ModelEdge& me = m.edges[key];
        std::set<u64> inter;
        for (u64 x : me.gates)
          if (gates.count(x)) inter.insert(x);
        changed = (me.modes | f.modes) != me.modes || inter.size() != me.gates.size();
        me.modes |= f.modes;
        me.gates = inter;
      } else {
        m.edges[key] = ModelEdge{f.modes, gates};
      }
      CycleResult c;
      AddOutcome o = g.AddEdge(a, b, f, report_gates, &c);
      ASSERT_TRUE(g.CheckOrder());
      if (!changed) {
        EXPECT_EQ(o, AddOutcome::kKnown);
        continue;
      }
      bool expect_real = m.RealCycle(a, b, report_gates);
      if (expect_real) {
        ASSERT_EQ(o, AddOutcome::kCycle) << "missed a real cycle through " << a << "->" << b;
      }
      if (o == AddOutcome::kCycle) ExpectValidCycle(c, a, b, report_gates);
      // Plain reachability always agrees.
      for (u64 x = 1; x <= kNodes; x++)
        for (u64 y = 1; y <= kNodes; y++)
          if (x != y && g.HasNode(x) && g.HasNode(y)) ASSERT_EQ(g.Reachable(x, y), m.Reachable(x, y));
    }
    EXPECT_EQ(g.num_edges(), m.edges.size());
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, LockGraphRandom, ::testing::Range(1, 21));

// MergeIfKnown (the detector's first pass, which captures no stack) must say "known" exactly when
// AddEdge would return kKnown for the same occurrence, and record a second thread as AddEdge does.
TEST(LockGraph, MergeIfKnownAgreesWithAddEdge) {
  std::mt19937_64 rng(7);
  auto graph = std::make_unique<LockGraph>();
  CycleResult c;
  auto random_facts = [&] {
    EdgeFacts f;
    f.modes = static_cast<u8>((rng() % 2 ? kFromHeldRead : kFromHeldWrite) | (rng() % 2 ? kToWantRead : kToWantWrite));
    f.thread = static_cast<u32>(rng() % 3);
    f.ngates = static_cast<u8>(rng() % 3);
    for (u8 i = 0; i < f.ngates; i++) f.gates[i] = 100 + rng() % 3;
    return f;
  };
  int known = 0, unknown = 0;
  for (int op = 0; op < 20000; op++) {
    if (op % 100 == 0) graph = std::make_unique<LockGraph>();  // fresh edges change more often
    LockGraph& g = *graph;
    u64 a = 1 + rng() % 6, b = 1 + rng() % 6;
    if (a == b) continue;
    EdgeFacts f = random_facts();
    Edge* before = g.FindEdge(a, b);
    if (!before) {
      EXPECT_FALSE(g.MergeIfKnown(a, b, f));
      g.AddEdge(a, b, f, false, &c);
      continue;
    }
    u32 first_thread = before->facts.thread;
    bool m = g.MergeIfKnown(a, b, f);
    if (m && f.thread != first_thread) EXPECT_TRUE(before->facts.multi_thread);
    AddOutcome o = g.AddEdge(a, b, f, false, &c);
    EXPECT_EQ(m, o == AddOutcome::kKnown) << "op " << op;
    (m ? known : unknown)++;
  }
  EXPECT_GT(known, 100);
  EXPECT_GT(unknown, 100);
}

}  // namespace
}  // namespace locksan
