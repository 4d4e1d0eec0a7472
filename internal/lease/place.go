package lease

// Preferred returns the node of nodes that should own stream: the one with the highest
// rendezvous score of (node, stream), ties going to the smaller name. It is "" when nodes is
// empty. The score depends on nothing but the two names, so every node computes the same owner
// from the same set of live nodes, and a node joining or leaving moves only the streams it wins
// or held.
func Preferred(nodes []string, stream string) string {
	best, bestScore := "", uint64(0)
	for _, n := range nodes {
		s := score(n, stream)
		if best == "" || s > bestScore || (s == bestScore && n < best) {
			best, bestScore = n, s
		}
	}
	return best
}

// score is FNV-64a of node, a zero byte and stream, passed through MurmurHash3's 64-bit
// finalizer so that names differing in one character (n1, n2, n3) still get independent scores.
// It is part of the cluster's protocol: changing it moves streams between nodes of mixed
// versions.
func score(node, stream string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(node); i++ {
		h ^= uint64(node[i])
		h *= prime
	}
	h *= prime // the separator: h ^= 0 leaves h as it is
	for i := 0; i < len(stream); i++ {
		h ^= uint64(stream[i])
		h *= prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
