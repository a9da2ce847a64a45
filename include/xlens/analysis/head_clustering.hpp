// xlens/analysis/head_clustering.hpp — grouping heads by what they do, and naming the groups.
//
//   xt::xarray<double> x = xlens::head_feature_matrix(scores);        // [layers · heads, features]
//   xlens::clustering c = xlens::kmeans_auto(xlens::standardise(x));   // k by silhouette
//   auto roles = xlens::head_roles(scores, c);                         // one row per head
//
// Features are each head's scores and attention profile, standardised per column (mean 0, sd 1;
// constant columns become 0) so that no unit dominates. k-means starts from k-means++ seeds drawn
// by a seeded generator and keeps the best of several restarts (lowest within-cluster sum of
// squares), so a seed gives the same clusters on every machine; without a given k it tries
// 2 … max_k and keeps the k of highest mean silhouette. Ward's agglomerative clustering is the
// deterministic alternative. Heads and clusters are named by the role scores they reach a threshold
// in and stand out in (see head_roles); heads with none are "diffuse".
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>

#include "xlens/analysis/attention_heads.hpp"
#include "xlens/error.hpp"

namespace xlens {

struct clustering {
    std::vector<std::size_t> labels;  // cluster of each row, 0 … k − 1
    std::size_t k = 0;
    double inertia = 0;      // within-cluster sum of squared distances
    double silhouette = 0;   // mean silhouette of the rows (0 when k = 1)
};

struct kmeans_options {
    std::size_t k = 0;          // 0: choose by silhouette among 2 … max_k
    std::size_t max_k = 10;
    std::uint64_t seed = 0;
    std::size_t restarts = 10;  // k-means++ seedings tried per k; the lowest inertia wins
    std::size_t max_iterations = 300;
};

/// Columns scaled to mean 0 and standard deviation 1 (constant columns: all 0).
inline xt::xarray<double> standardise(const xt::xarray<double>& x);

/// k-means with k-means++ initialisation. Throws input_error 544 if k is 0 or more than the rows.
inline clustering kmeans(const xt::xarray<double>& x, std::size_t k, std::uint64_t seed = 0, std::size_t restarts = 10,
                         std::size_t max_iterations = 300);
/// k-means with options.k, or the k in 2 … max_k (at most rows − 1) of highest silhouette.
inline clustering kmeans_auto(const xt::xarray<double>& x, const kmeans_options& options = {});
/// Ward's agglomerative clustering cut at k clusters (labels numbered by first appearance).
inline clustering ward(const xt::xarray<double>& x, std::size_t k);
/// Ward cut at `k`, or, when k is 0, at the k in 2 … max_k (at most rows − 1) of highest silhouette.
inline clustering ward_auto(const xt::xarray<double>& x, std::size_t k = 0, std::size_t max_k = 10);

/// Mean silhouette of a labelling: for each row (a − b) / max(a, b) with a the mean distance to its
/// own cluster and b to the nearest other; rows alone in their cluster count 0.
inline double silhouette(const xt::xarray<double>& x, const std::vector<std::size_t>& labels);
/// Adjusted Rand index of two labellings of the same rows (1: identical up to renaming).
inline double adjusted_rand_index(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b);

/// Each head's features for clustering, one row per head (layer-major): the role scores (with
/// induction as induction_attainable), mean distance / T-independent entropy, then the profile.
inline xt::xarray<double> head_feature_matrix(const head_scores& s);

/// The role features a cluster can be named after, in this order of precedence on ties.
inline const std::vector<head_feature>& role_features() {
    static const std::vector<head_feature> roles = {head_feature::previous_token, head_feature::induction,
                                                    head_feature::duplicate_token, head_feature::first_token,
                                                    head_feature::self, head_feature::local};
    return roles;
}

struct head_role {
    std::size_t layer = 0, head = 0;
    std::size_t cluster = 0;
    std::string role;          // the head's most distinctive role score at or above the threshold, or "diffuse"
    std::string cluster_name;  // the same for the cluster's mean scores, every such feature joined by '+'
};

/// Names heads and clusters from their role scores (induction as induction_attainable): among the
/// scores at or above `threshold`, the one most above the other heads' (largest standardised value)
/// is the role; none gives "diffuse". A cluster's name lists every feature its members' mean
/// scores reach the threshold in, most distinctive first, e.g. "induction+first_token".
inline std::vector<head_role> head_roles(const head_scores& s, const clustering& c, double threshold = 0.4);

/// Rows of `x` projected on its first two principal axes ([rows, 2]; for a 2-D scatter of heads).
/// Axes by power iteration on the covariance, their signs fixed so the largest loading is positive.
inline xt::xarray<double> principal_components_2d(const xt::xarray<double>& x);

/// {"schema": "xlens.head_roles/1", "k", "silhouette", "threshold", "roles": [{"layer", "head", "cluster", "role", "cluster_name", "scores": {…}}]}.
inline nlohmann::json to_json(const std::vector<head_role>& roles, const head_scores& s, const clustering& c);

// ---- definitions -------------------------------------------------------------------------------

namespace detail {

inline double squared_distance(const double* a, const double* b, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
    return s;
}

inline void check_rows(const xt::xarray<double>& x, std::size_t k) {
    if (x.dimension() != 2) throw input_error(544, "clustering expects a [rows, features] matrix");
    if (k == 0 || k > x.shape()[0])
        throw input_error(544, "cannot make " + std::to_string(k) + " clusters of " + std::to_string(x.shape()[0]) + " heads");
}

/// One k-means run from k-means++ seeds: each next centre drawn with probability ∝ squared distance
/// to the nearest centre so far.
inline clustering kmeans_once(const xt::xarray<double>& x, std::size_t k, std::mt19937_64& rng, std::size_t max_iterations) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    auto uniform = [&rng] { return static_cast<double>(rng() >> 11) * 0x1.0p-53; };
    std::vector<double> centres(k * d);
    std::vector<double> nearest(n, std::numeric_limits<double>::infinity());
    std::size_t first = static_cast<std::size_t>(uniform() * static_cast<double>(n));
    std::copy_n(x.data() + first * d, d, centres.data());
    for (std::size_t c = 1; c < k; ++c) {
        double total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            nearest[i] = std::min(nearest[i], squared_distance(x.data() + i * d, centres.data() + (c - 1) * d, d));
            total += nearest[i];
        }
        std::size_t pick = n - 1;
        if (total > 0) {
            double r = uniform() * total;
            for (std::size_t i = 0; i < n; ++i)
                if ((r -= nearest[i]) < 0) { pick = i; break; }
        } else {
            pick = static_cast<std::size_t>(uniform() * static_cast<double>(n));  // all points on the centres
        }
        std::copy_n(x.data() + pick * d, d, centres.data() + c * d);
    }
    clustering out;
    out.k = k;
    out.labels.assign(n, 0);
    for (std::size_t iteration = 0; iteration < max_iterations; ++iteration) {
        bool changed = iteration == 0;
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t best = 0;
            double best_d = std::numeric_limits<double>::infinity();
            for (std::size_t c = 0; c < k; ++c) {
                double dist = squared_distance(x.data() + i * d, centres.data() + c * d, d);
                if (dist < best_d) best_d = dist, best = c;
            }
            if (out.labels[i] != best) changed = true, out.labels[i] = best;
        }
        if (!changed) break;
        std::vector<double> sums(k * d, 0.0);
        std::vector<std::size_t> counts(k, 0);
        for (std::size_t i = 0; i < n; ++i) {
            ++counts[out.labels[i]];
            for (std::size_t j = 0; j < d; ++j) sums[out.labels[i] * d + j] += x.data()[i * d + j];
        }
        for (std::size_t c = 0; c < k; ++c)
            if (counts[c] > 0)  // an emptied cluster keeps its centre
                for (std::size_t j = 0; j < d; ++j) centres[c * d + j] = sums[c * d + j] / static_cast<double>(counts[c]);
    }
    for (std::size_t i = 0; i < n; ++i) out.inertia += squared_distance(x.data() + i * d, centres.data() + out.labels[i] * d, d);
    return out;
}

/// Labels renumbered by first appearance, so equal partitions print equally.
inline void canonical_labels(std::vector<std::size_t>& labels) {
    std::map<std::size_t, std::size_t> renamed;
    for (auto& l : labels) {
        auto it = renamed.find(l);
        if (it == renamed.end()) it = renamed.emplace(l, renamed.size()).first;
        l = it->second;
    }
}

}  // namespace detail

inline xt::xarray<double> standardise(const xt::xarray<double>& x) {
    if (x.dimension() != 2) throw input_error(544, "standardise expects a [rows, features] matrix");
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    xt::xarray<double> out = x;
    for (std::size_t j = 0; j < d; ++j) {
        double mean = 0, var = 0;
        for (std::size_t i = 0; i < n; ++i) mean += x(i, j);
        mean /= static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) var += (x(i, j) - mean) * (x(i, j) - mean);
        const double sd = std::sqrt(var / static_cast<double>(n));
        for (std::size_t i = 0; i < n; ++i) out(i, j) = sd > 1e-12 ? (x(i, j) - mean) / sd : 0.0;
    }
    return out;
}

inline clustering kmeans(const xt::xarray<double>& x, std::size_t k, std::uint64_t seed, std::size_t restarts,
                         std::size_t max_iterations) {
    detail::check_rows(x, k);
    std::mt19937_64 rng(seed);
    clustering best;
    best.inertia = std::numeric_limits<double>::infinity();
    for (std::size_t r = 0; r < std::max<std::size_t>(1, restarts); ++r) {
        clustering c = detail::kmeans_once(x, k, rng, max_iterations);
        if (c.inertia < best.inertia - 1e-12) best = std::move(c);
    }
    detail::canonical_labels(best.labels);
    best.silhouette = k > 1 ? silhouette(x, best.labels) : 0.0;
    return best;
}

namespace detail {

/// The clustering of highest silhouette among make(k) for k in 2 … max_k (at most rows − 1).
template <class Make>
clustering best_by_silhouette(const xt::xarray<double>& x, std::size_t max_k, Make make) {
    const std::size_t n = x.dimension() == 2 ? x.shape()[0] : 0;
    if (n < 3) throw input_error(544, "choosing k by silhouette needs at least 3 heads, not " + std::to_string(n));
    clustering best;
    best.silhouette = -2;
    for (std::size_t k = 2; k <= std::min(max_k, n - 1); ++k) {
        clustering c = make(k);
        if (c.silhouette > best.silhouette + 1e-9) best = std::move(c);
    }
    return best;
}

}  // namespace detail

inline clustering kmeans_auto(const xt::xarray<double>& x, const kmeans_options& options) {
    if (options.k) return kmeans(x, options.k, options.seed, options.restarts, options.max_iterations);
    return detail::best_by_silhouette(x, options.max_k, [&](std::size_t k) {
        return kmeans(x, k, options.seed, options.restarts, options.max_iterations);
    });
}

inline clustering ward_auto(const xt::xarray<double>& x, std::size_t k, std::size_t max_k) {
    if (k) return ward(x, k);
    return detail::best_by_silhouette(x, max_k, [&](std::size_t candidate) { return ward(x, candidate); });
}

inline clustering ward(const xt::xarray<double>& x, std::size_t k) {
    detail::check_rows(x, k);
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    // Each cluster: its size and centroid. Merging A and B costs the rise in within-cluster sum of
    // squares, |A||B| / (|A| + |B|) · ‖c_A − c_B‖² (Ward's criterion); the cheapest pair merges.
    std::vector<std::vector<double>> centroid(n);
    std::vector<std::size_t> size(n, 1), owner(n);
    std::vector<bool> alive(n, true);
    for (std::size_t i = 0; i < n; ++i) {
        centroid[i].assign(x.data() + i * d, x.data() + (i + 1) * d);
        owner[i] = i;
    }
    for (std::size_t clusters = n; clusters > k; --clusters) {
        double best = std::numeric_limits<double>::infinity();
        std::size_t a = 0, b = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (!alive[i]) continue;
            for (std::size_t j = i + 1; j < n; ++j) {
                if (!alive[j]) continue;
                const double cost = static_cast<double>(size[i] * size[j]) / static_cast<double>(size[i] + size[j]) *
                                    detail::squared_distance(centroid[i].data(), centroid[j].data(), d);
                if (cost < best) best = cost, a = i, b = j;
            }
        }
        for (std::size_t t = 0; t < d; ++t)
            centroid[a][t] = (centroid[a][t] * static_cast<double>(size[a]) + centroid[b][t] * static_cast<double>(size[b])) /
                             static_cast<double>(size[a] + size[b]);
        size[a] += size[b];
        alive[b] = false;
        for (auto& o : owner)
            if (o == b) o = a;
    }
    clustering out;
    out.k = k;
    out.labels = owner;
    detail::canonical_labels(out.labels);
    for (std::size_t i = 0; i < n; ++i) out.inertia += detail::squared_distance(x.data() + i * d, centroid[owner[i]].data(), d);
    out.silhouette = k > 1 ? silhouette(x, out.labels) : 0.0;
    return out;
}

inline double silhouette(const xt::xarray<double>& x, const std::vector<std::size_t>& labels) {
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    const std::size_t k = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
    std::vector<std::size_t> counts(k, 0);
    for (auto l : labels) ++counts[l];
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (counts[labels[i]] < 2) continue;
        std::vector<double> mean(k, 0.0);
        for (std::size_t j = 0; j < n; ++j)
            if (j != i) mean[labels[j]] += std::sqrt(detail::squared_distance(x.data() + i * d, x.data() + j * d, d));
        const double a = mean[labels[i]] / static_cast<double>(counts[labels[i]] - 1);
        double b = std::numeric_limits<double>::infinity();
        for (std::size_t c = 0; c < k; ++c)
            if (c != labels[i] && counts[c] > 0) b = std::min(b, mean[c] / static_cast<double>(counts[c]));
        const double m = std::max(a, b);
        if (m > 0 && std::isfinite(b)) total += (b - a) / m;
    }
    return n ? total / static_cast<double>(n) : 0.0;
}

inline double adjusted_rand_index(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
    if (a.size() != b.size()) throw input_error(544, "adjusted_rand_index: labellings of different lengths");
    std::map<std::pair<std::size_t, std::size_t>, double> joint;
    std::map<std::size_t, double> rows, cols;
    for (std::size_t i = 0; i < a.size(); ++i) ++joint[{a[i], b[i]}], ++rows[a[i]], ++cols[b[i]];
    auto pairs = [](double m) { return m * (m - 1) / 2; };
    double index = 0, sum_rows = 0, sum_cols = 0;
    for (const auto& [key, m] : joint) index += pairs(m);
    for (const auto& [key, m] : rows) sum_rows += pairs(m);
    for (const auto& [key, m] : cols) sum_cols += pairs(m);
    const double expected = sum_rows * sum_cols / pairs(static_cast<double>(a.size()));
    const double maximum = (sum_rows + sum_cols) / 2;
    return maximum == expected ? 1.0 : (index - expected) / (maximum - expected);
}

inline xt::xarray<double> head_feature_matrix(const head_scores& s) {
    const std::size_t P = s.profile.shape()[2];
    const std::size_t columns = head_feature_count + P;
    xt::xarray<double> x = xt::xarray<double>::from_shape({s.layers * s.heads, columns});
    for (std::size_t l = 0; l < s.layers; ++l)
        for (std::size_t h = 0; h < s.heads; ++h) {
            double* row = x.data() + (l * s.heads + h) * columns;
            for (std::size_t f = 0; f < head_feature_count; ++f) row[f] = s.features(l, h, f);
            row[static_cast<std::size_t>(head_feature::induction)] = s.induction_attainable(l, h);
            for (std::size_t p = 0; p < P; ++p) row[head_feature_count + p] = s.profile(l, h, p);
        }
    return x;
}

inline std::vector<head_role> head_roles(const head_scores& s, const clustering& c, double threshold) {
    const std::size_t n = s.layers * s.heads;
    if (c.labels.size() != n)
        throw input_error(544, "the clustering has " + std::to_string(c.labels.size()) + " labels for " + std::to_string(n) + " heads");
    const auto& features = role_features();
    const std::size_t F = features.size();
    // raw[i][f]: head i's role score; z[i][f]: the same standardised over the heads.
    std::vector<double> raw(n * F), z(n * F);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t f = 0; f < F; ++f)
            raw[i * F + f] = features[f] == head_feature::induction ? s.induction_attainable(i / s.heads, i % s.heads)
                                                                    : s.at(features[f], i / s.heads, i % s.heads);
    for (std::size_t f = 0; f < F; ++f) {
        double mean = 0, var = 0;
        for (std::size_t i = 0; i < n; ++i) mean += raw[i * F + f] / static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) var += (raw[i * F + f] - mean) * (raw[i * F + f] - mean) / static_cast<double>(n);
        const double sd = std::sqrt(var);
        for (std::size_t i = 0; i < n; ++i) z[i * F + f] = sd > 1e-12 ? (raw[i * F + f] - mean) / sd : 0.0;
    }
    // Among the role scores at or above the threshold, the most distinctive (largest z) names the
    // role: most heads of a trained model put mass on the first token, so a raw maximum would call
    // nearly all of them sinks, induction heads included.
    auto name = [&](const std::vector<double>& r, const std::vector<double>& zs, bool all) {
        std::vector<std::size_t> order;
        for (std::size_t f = 0; f < F; ++f)
            if (r[f] >= threshold) order.push_back(f);
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return zs[a] > zs[b]; });
        if (order.empty()) return std::string("diffuse");
        std::string out = head_feature_name(features[order[0]]);
        if (all)
            for (std::size_t k = 1; k < order.size(); ++k) out += "+" + std::string(head_feature_name(features[order[k]]));
        return out;
    };
    std::vector<std::string> cluster_name(c.k, "diffuse");
    for (std::size_t cluster = 0; cluster < c.k; ++cluster) {
        std::vector<double> r(F, 0.0), zs(F, 0.0);
        std::size_t members = 0;
        for (std::size_t i = 0; i < n; ++i)
            if (c.labels[i] == cluster) {
                ++members;
                for (std::size_t f = 0; f < F; ++f) r[f] += raw[i * F + f], zs[f] += z[i * F + f];
            }
        if (members == 0) continue;
        for (std::size_t f = 0; f < F; ++f) r[f] /= static_cast<double>(members), zs[f] /= static_cast<double>(members);
        cluster_name[cluster] = name(r, zs, true);
    }
    std::vector<head_role> out;
    for (std::size_t i = 0; i < n; ++i) {
        std::vector<double> r(raw.begin() + static_cast<std::ptrdiff_t>(i * F), raw.begin() + static_cast<std::ptrdiff_t>((i + 1) * F));
        std::vector<double> zs(z.begin() + static_cast<std::ptrdiff_t>(i * F), z.begin() + static_cast<std::ptrdiff_t>((i + 1) * F));
        out.push_back({i / s.heads, i % s.heads, c.labels[i], name(r, zs, false), cluster_name[c.labels[i]]});
    }
    return out;
}

inline xt::xarray<double> principal_components_2d(const xt::xarray<double>& x) {
    if (x.dimension() != 2) throw input_error(544, "principal_components_2d expects a [rows, features] matrix");
    const std::size_t n = x.shape()[0], d = x.shape()[1];
    std::vector<double> mean(d, 0.0), cov(d * d, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) mean[j] += x(i, j) / static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < d; ++a)
            for (std::size_t b = 0; b < d; ++b) cov[a * d + b] += (x(i, a) - mean[a]) * (x(i, b) - mean[b]);
    xt::xarray<double> out = xt::zeros<double>({n, std::size_t(2)});
    for (std::size_t axis = 0; axis < 2 && d > axis; ++axis) {
        std::vector<double> v(d), w(d);
        for (std::size_t j = 0; j < d; ++j) v[j] = 1.0 + 0.01 * static_cast<double>(j);  // fixed start: deterministic
        double eigenvalue = 0;
        for (int iteration = 0; iteration < 500; ++iteration) {
            for (std::size_t a = 0; a < d; ++a) {
                w[a] = 0;
                for (std::size_t b = 0; b < d; ++b) w[a] += cov[a * d + b] * v[b];
            }
            double norm = 0;
            for (double t : w) norm += t * t;
            norm = std::sqrt(norm);
            if (norm < 1e-300) break;
            for (std::size_t j = 0; j < d; ++j) v[j] = w[j] / norm;
            eigenvalue = norm;
        }
        std::size_t largest = 0;
        for (std::size_t j = 1; j < d; ++j)
            if (std::fabs(v[j]) > std::fabs(v[largest])) largest = j;
        if (v[largest] < 0) for (auto& t : v) t = -t;
        for (std::size_t i = 0; i < n; ++i) {
            double p = 0;
            for (std::size_t j = 0; j < d; ++j) p += (x(i, j) - mean[j]) * v[j];
            out(i, axis) = p;
        }
        for (std::size_t a = 0; a < d; ++a)  // deflate: the next axis is orthogonal to this one
            for (std::size_t b = 0; b < d; ++b) cov[a * d + b] -= eigenvalue * v[a] * v[b];
    }
    return out;
}

inline nlohmann::json to_json(const std::vector<head_role>& roles, const head_scores& s, const clustering& c) {
    using json = nlohmann::json;
    json rows = json::array();
    for (const auto& r : roles) {
        json scores;
        for (std::size_t f = 0; f < head_feature_count; ++f)
            scores[head_feature_name(static_cast<head_feature>(f))] = s.features(r.layer, r.head, f);
        scores["induction_attainable"] = s.induction_attainable(r.layer, r.head);
        rows.push_back({{"layer", r.layer}, {"head", r.head}, {"cluster", r.cluster}, {"role", r.role},
                        {"cluster_name", r.cluster_name}, {"scores", std::move(scores)}});
    }
    return {{"schema", "xlens.head_roles/1"}, {"k", c.k}, {"silhouette", c.silhouette}, {"inertia", c.inertia},
            {"roles", std::move(rows)}};
}

}  // namespace xlens
