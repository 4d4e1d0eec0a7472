package main

import (
	"encoding/json"
	"testing"
)

func TestCustomerRecord(t *testing.T) {
	for _, size := range []int{minRecordBytes, 1024, 4096} {
		for i := range 200 {
			id := customerID(i % 7)
			b := customerRecord(id, i%3, i, size)
			if len(b) != size || b[size-1] != '\n' {
				t.Fatalf("size %d record %d: %d bytes, last %q", size, i, len(b), b[len(b)-1])
			}
			var v struct {
				CustomerID string `json:"customer_id"`
				Client     int    `json:"client"`
				Seq        int    `json:"seq"`
			}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("size %d record %d: %v\n%s", size, i, err, b)
			}
			if v.CustomerID != id || v.Client != i%3 || v.Seq != i {
				t.Errorf("size %d record %d: got %+v", size, i, v)
			}
		}
	}
}

func TestCustomerOfCoversEveryCustomer(t *testing.T) {
	const clients, slots, customers = 8, 500, 1000
	seen := map[int]bool{}
	for g := range clients {
		own := map[int]bool{}
		for i := range slots {
			c := customerOf(g, i, slots, customers)
			seen[c], own[c] = true, true
		}
		if len(own) != slots {
			t.Errorf("client %d covers %d customers, want %d", g, len(own), slots)
		}
	}
	if len(seen) != customers {
		t.Errorf("%d customers covered, want %d", len(seen), customers)
	}
}
