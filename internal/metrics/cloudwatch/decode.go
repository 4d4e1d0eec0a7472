package cloudwatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxQueryListIndex bounds a query-protocol list index (Name.member.N).
const maxQueryListIndex = 10000

// decodeJSON decodes an AWS JSON 1.0 body into a generic tree; numbers stay json.Number.
func decodeJSON(body []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("request body is not a JSON object")
	}
	return m, nil
}

// decodeCBORBody decodes a Smithy RPC v2 CBOR body; an empty body is an empty input.
func decodeCBORBody(body []byte) (map[string]any, error) {
	if len(body) == 0 {
		return map[string]any{}, nil
	}
	v, err := decodeCBOR(body)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("request body is not a CBOR map")
	}
	return m, nil
}

// qnode is one node of a query-protocol parameter tree under construction.
type qnode struct {
	value  string
	fields map[string]*qnode
	items  map[int]*qnode
}

// queryTree turns flattened query parameters (Dimensions.member.1.Name=...) into a generic
// tree of map[string]any, []any and string. Action and Version are left out. The first value
// of a repeated parameter wins.
func queryTree(form url.Values) (map[string]any, *apiError) {
	root := &qnode{}
	for key, vals := range form {
		if key == "Action" || key == "Version" || len(vals) == 0 {
			continue
		}
		n := root
		segs := strings.Split(key, ".")
		for i := 0; i < len(segs); i++ {
			if segs[i] == "member" && i+1 < len(segs) {
				idx, err := strconv.Atoi(segs[i+1])
				if err != nil || idx < 1 || idx > maxQueryListIndex {
					return nil, errorf(CodeInvalidParameterValue, "The parameter %s is not a valid list index.", key)
				}
				if n.items == nil {
					n.items = map[int]*qnode{}
				}
				n = child(n.items, idx)
				i++
				continue
			}
			if n.fields == nil {
				n.fields = map[string]*qnode{}
			}
			n = child(n.fields, segs[i])
		}
		n.value = vals[0]
	}
	m, _ := root.tree().(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func child[K comparable](m map[K]*qnode, k K) *qnode {
	c, ok := m[k]
	if !ok {
		c = &qnode{}
		m[k] = c
	}
	return c
}

func (n *qnode) tree() any {
	switch {
	case n.fields != nil:
		m := make(map[string]any, len(n.fields))
		for k, c := range n.fields {
			m[k] = c.tree()
		}
		return m
	case n.items != nil:
		idx := make([]int, 0, len(n.items))
		for i := range n.items {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		l := make([]any, 0, len(idx))
		for _, i := range idx {
			l = append(l, n.items[i].tree())
		}
		return l
	}
	return n.value
}
