package server

import (
	"bytes"
	"encoding/json"
)

// Destination configurations that Hydrant does not deliver to yet are kept as JSON trees:
// UpdateDestination merges into them and Describe renders them with AWS's renames.

// updateToConfig maps members of a *DestinationUpdate to their *DestinationConfiguration names.
var updateToConfig = map[string]string{
	"S3Update":       "S3Configuration",
	"S3BackupUpdate": "S3BackupConfiguration",
}

// configToDescription maps configuration members to their description names; secrets map to "".
var configToDescription = map[string]string{
	"S3Configuration":       "S3DestinationDescription",
	"S3BackupConfiguration": "S3BackupDescription",
	"VpcConfiguration":      "VpcConfigurationDescription",
	"Password":              "",
	"AccessKey":             "",
	"PrivateKey":            "",
	"KeyPassphrase":         "",
}

func decodeTree(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// renameTree renames object members recursively; a member renamed to "" is dropped.
func renameTree(v any, names map[string]string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			n, ok := names[k]
			if !ok {
				n = k
			}
			if n == "" {
				continue
			}
			out[n] = renameTree(e, names)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = renameTree(e, names)
		}
		return out
	default:
		return v
	}
}

// mergeTree merges patch into base: objects member by member, everything else replaced.
func mergeTree(base, patch any) any {
	b, ok1 := base.(map[string]any)
	p, ok2 := patch.(map[string]any)
	if !ok1 || !ok2 {
		return patch
	}
	out := make(map[string]any, len(b)+len(p))
	for k, v := range b {
		out[k] = v
	}
	for k, v := range p {
		if v == nil {
			continue
		}
		out[k] = mergeTree(out[k], v)
	}
	return out
}

// rewrite decodes raw, applies fn, and encodes the result.
func rewrite(raw json.RawMessage, fn func(any) any) (json.RawMessage, error) {
	v, err := decodeTree(raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(fn(v))
}
