package cloudwatch

import (
	stdcmp "cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestIs(t *testing.T) {
	form := "application/x-www-form-urlencoded; charset=utf-8"
	tests := []struct {
		name   string
		method string
		target string
		ctype  string
		auth   string
		path   string
		body   string
		want   bool
	}{
		{name: "json", target: "GraniteServiceVersion20100801.GetMetricData", ctype: contentJSON, body: "{}", want: true},
		{name: "cbor", path: "/service/GraniteServiceVersion20100801/operation/ListMetrics", ctype: contentCBOR, want: true},
		{name: "query action", ctype: form, body: "Action=ListMetrics&Version=2010-08-01", want: true},
		{name: "query other action same version", ctype: form, body: "Action=PutMetricData&Version=2010-08-01", want: true},
		{name: "query get", method: http.MethodGet, path: "/?Action=GetMetricStatistics", want: true},
		{name: "signed for monitoring", ctype: "text/plain", auth: "AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0", want: true},
		{name: "firehose json", target: "Firehose_20150804.PutRecord", ctype: "application/x-amz-json-1.1", body: "{}",
			auth: "AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/firehose/aws4_request, SignedHeaders=host, Signature=0"},
		// Firehose never sends a form: every form is CloudWatch's, which answers InvalidAction.
		{name: "foreign form", ctype: form, body: "Action=SendMessage&Version=2012-11-05", want: true},
		{name: "console get", method: http.MethodGet, path: "/streams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(stdcmp.Or(tt.method, http.MethodPost), stdcmp.Or(tt.path, "/"), strings.NewReader(tt.body))
			for k, v := range map[string]string{"X-Amz-Target": tt.target, "Content-Type": tt.ctype, "Authorization": tt.auth} {
				if v != "" {
					r.Header.Set(k, v)
				}
			}
			if got := Is(r); got != tt.want {
				t.Errorf("Is = %v, want %v", got, tt.want)
			}
			if rest, _ := io.ReadAll(r.Body); string(rest) != tt.body {
				t.Errorf("body after Is = %q, want %q", rest, tt.body)
			}
		})
	}
}

// call sends one JSON 1.0 request and returns the status, the x-amzn-query-error header and
// the decoded body.
func call(tb testing.TB, h http.Handler, op, body string) (int, string, map[string]any) {
	tb.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", TargetPrefix+"."+op)
	r.Header.Set("Content-Type", contentJSON)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		tb.Fatalf("response body %q: %v", w.Body, err)
	}
	return w.Code, w.Header().Get("x-amzn-query-error"), out
}

const gms = `"Namespace":"AWS/Firehose","MetricName":"IncomingRecords","StartTime":1704067200,"EndTime":1704070800`

func TestValidation(t *testing.T) {
	tests := []struct {
		name, op, body string
		code, message  string
	}{
		{"missing metric name", "GetMetricStatistics", `{"Namespace":"n","StartTime":1,"EndTime":2,"Period":60,"Statistics":["Sum"]}`,
			"MissingParameter", "The parameter MetricName is required."},
		{"missing period", "GetMetricStatistics", `{` + gms + `,"Statistics":["Sum"]}`, "MissingParameter", "The parameter Period is required."},
		{"period zero", "GetMetricStatistics", `{` + gms + `,"Period":0,"Statistics":["Sum"]}`, "InvalidParameterValue", "The parameter Period must be greater than 0."},
		{"no statistics", "GetMetricStatistics", `{` + gms + `,"Period":60}`, "InvalidParameterCombination", "Must specify either Statistics or ExtendedStatistics, but not both."},
		{"percentile above 100", "GetMetricStatistics", `{` + gms + `,"Period":60,"ExtendedStatistics":["p100.1"]}`,
			"InvalidParameterValue", "The value p100.1 for parameter ExtendedStatistics.member.1 is not supported."},
		{"bad unit", "GetMetricStatistics", `{` + gms + `,"Period":60,"Statistics":["Sum"],"Unit":"Apples"}`,
			"InvalidParameterValue", "The value Apples for parameter Unit is not supported."},
		{"31 dimensions", "GetMetricStatistics", `{` + gms + `,"Period":60,"Statistics":["Sum"],"Dimensions":[` + strings.Repeat(`{"Name":"a","Value":"b"},`, 30) + `{"Name":"a","Value":"b"}]}`,
			"InvalidParameterValue", "The collection Dimensions must not have more than 30 members."},
		{"dimension without value", "GetMetricStatistics", `{` + gms + `,"Period":60,"Statistics":["Sum"],"Dimensions":[{"Name":"a"}]}`,
			"MissingParameter", "The parameter Dimensions.member.1.Value is required."},
		{"exactly 1440 datapoints is fine but 1441 is not", "GetMetricStatistics", `{"Namespace":"n","MetricName":"m","StartTime":0,"EndTime":86401,"Period":60,"Statistics":["Sum"]}`,
			"InvalidParameterCombination", "You have requested up to 1441 datapoints, which exceeds the limit of 1440. You may reduce the datapoints requested by increasing Period, or decreasing the time range."},
		{"gmd missing metric stat", "GetMetricData", `{"MetricDataQueries":[{"Id":"a"}],"StartTime":1,"EndTime":2}`,
			"MissingParameter", "The parameter MetricDataQueries.member.1.MetricStat is required."},
		{"gmd bad id", "GetMetricData", `{"MetricDataQueries":[{"Id":"A","MetricStat":{"Metric":{"Namespace":"n","MetricName":"m"},"Period":60,"Stat":"Sum"}}],"StartTime":1,"EndTime":2}`,
			"InvalidParameterValue", "The value A for parameter MetricDataQueries.member.1.Id is not valid: it must start with a lowercase letter and contain only letters, numbers and underscores."},
		{"gmd duplicate id", "GetMetricData", `{"MetricDataQueries":[` + strings.Repeat(`{"Id":"a","MetricStat":{"Metric":{"Namespace":"n","MetricName":"m"},"Period":60,"Stat":"Sum"}},`, 1) + `{"Id":"a","MetricStat":{"Metric":{"Namespace":"n","MetricName":"m"},"Period":60,"Stat":"Sum"}}],"StartTime":1,"EndTime":2}`,
			"InvalidParameterValue", "The value a for parameter MetricDataQueries.member.2.Id is not unique."},
		{"gmd bad stat", "GetMetricData", `{"MetricDataQueries":[{"Id":"a","MetricStat":{"Metric":{"Namespace":"n","MetricName":"m"},"Period":60,"Stat":"Median"}}],"StartTime":1,"EndTime":2}`,
			"InvalidParameterValue", "The value Median for parameter MetricDataQueries.member.1.MetricStat.Stat is not supported."},
		{"gmd next token", "GetMetricData", `{"MetricDataQueries":[{"Id":"a","MetricStat":{"Metric":{"Namespace":"n","MetricName":"m"},"Period":60,"Stat":"Sum"}}],"StartTime":1,"EndTime":2,"NextToken":"x"}`,
			"InvalidNextToken", "The NextToken x is not valid."},
		{"gmd no queries", "GetMetricData", `{"MetricDataQueries":[],"StartTime":1,"EndTime":2}`,
			"InvalidParameterValue", "The collection MetricDataQueries must contain between 1 and 500 members."},
		{"list bad token", "ListMetrics", `{"NextToken":"bogus"}`, "InvalidParameterValue", "Request parameter NextToken is invalid"},
		{"list too many filters", "ListMetrics", `{"Dimensions":[` + strings.Repeat(`{"Name":"a"},`, 10) + `{"Name":"a"}]}`,
			"InvalidParameterValue", "The collection Dimensions must not have more than 10 members."},
		{"list namespace starting with colon", "ListMetrics", `{"Namespace":":x"}`, "InvalidParameterValue", "The parameter Namespace must not start with ':'."},
	}
	h := newTestHandler(t, newFakeSource())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, qerr, out := call(t, h, tt.op, tt.body)
			got := map[string]any{"status": status, "query-error": qerr, "message": out["message"]}
			want := map[string]any{"status": 400, "query-error": tt.code + ";Sender", "message": tt.message}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSourceQuery(t *testing.T) {
	src := newFakeSource()
	h := newTestHandler(t, src)
	status, _, out := call(t, h, "GetMetricStatistics", `{`+gms+`,"Period":300,"ExtendedStatistics":["p99"],"Unit":"Bytes","Dimensions":[{"Name":"DeliveryStreamName","Value":"s1"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	want := []Query{{
		Namespace: "AWS/Firehose", MetricName: "IncomingRecords", Dimensions: map[string]string{"DeliveryStreamName": "s1"},
		Start: t0, End: t0.Add(time.Hour), Period: 5 * time.Minute, Percentiles: []string{"p99"},
	}}
	if diff := cmp.Diff(want, src.queries); diff != "" {
		t.Errorf("source query (-want +got):\n%s", diff)
	}
	// The unit filter drops the Count datapoints.
	if diff := cmp.Diff(map[string]any{"Label": "IncomingRecords", "Datapoints": []any{}}, out); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

// A source that cannot answer (in a cluster: a node that did not answer in time) fails the
// request with a fault the SDKs retry.
func TestSourceError(t *testing.T) {
	src := newFakeSource()
	src.err = errFakeSource
	for _, tt := range []struct{ op, body string }{
		{"GetMetricStatistics", `{` + gms + `,"Period":60,"Statistics":["Sum"]}`},
		{"ListMetrics", `{"Namespace":"AWS/Firehose"}`},
	} {
		status, qerr, out := call(t, newTestHandler(t, src), tt.op, tt.body)
		got := map[string]any{"status": status, "query-error": qerr, "type": out["__type"]}
		want := map[string]any{"status": 500, "query-error": "InternalServiceError;Receiver", "type": "GraniteServiceVersion20100801#InternalServiceFault"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.op, diff)
		}
	}
}

func TestListMetricsPages(t *testing.T) {
	src := &fakeSource{}
	for i := range 1203 {
		src.metrics = append(src.metrics, fakeMetric{Metric: Metric{"NS", fmt.Sprintf("m%04d", i), nil}})
	}
	h := newTestHandler(t, src)
	var names []string
	token, pages := "", 0
	for {
		body := `{"Namespace":"NS"}`
		if token != "" {
			body = fmt.Sprintf(`{"Namespace":"NS","NextToken":%q}`, token)
		}
		status, _, out := call(t, h, "ListMetrics", body)
		if status != 200 {
			t.Fatalf("status %d: %v", status, out)
		}
		pages++
		for _, m := range out["Metrics"].([]any) {
			names = append(names, m.(map[string]any)["MetricName"].(string))
		}
		next, ok := out["NextToken"].(string)
		if !ok {
			break
		}
		token = next
	}
	if pages != 3 || len(names) != 1203 || names[0] != "m0000" || names[1202] != "m1202" {
		t.Errorf("pages = %d, metrics = %d (%s … %s), want 3 pages of 1203 metrics in order", pages, len(names), names[0], names[len(names)-1])
	}
}

// FuzzServeHTTP checks that no request body, in any protocol, makes the handler panic or
// answer with a status other than 200, 400 or 500.
func FuzzServeHTTP(f *testing.F) {
	f.Add(uint8(0), "GetMetricStatistics", []byte(`{`+gms+`,"Period":60,"Statistics":["Sum"]}`))
	f.Add(uint8(1), "ListMetrics", []byte("Action=ListMetrics&Dimensions.member.1.Name=a&Dimensions.member.2.Value=b"))
	f.Add(uint8(1), "GetMetricData", []byte("Action=GetMetricData&MetricDataQueries.member.1.Id=a&MetricDataQueries.member.1.MetricStat.Period=60&StartTime=1&EndTime=2"))
	f.Add(uint8(2), "GetMetricData", []byte("\xa1qMetricDataQueries\x81\xa1bIdaa"))
	h := newTestHandler(f, newFakeSource())
	f.Fuzz(func(t *testing.T, proto uint8, op string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		switch proto % 3 {
		case 0:
			r.Header.Set("X-Amz-Target", TargetPrefix+"."+op)
		case 1:
			r.Header.Set("Content-Type", contentForm)
		case 2:
			r.URL.Path = cborPath + op
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 && w.Code != 400 && w.Code != 500 {
			t.Fatalf("status %d", w.Code)
		}
	})
}
