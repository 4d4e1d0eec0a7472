package processor

import "context"

// delimiterStage is AppendDelimiterToRecord: "\n" after every record.
type delimiterStage struct{}

func (delimiterStage) run(_ context.Context, _ *runState, in []item) ([]item, error) {
	for i := range in {
		d := in[i].rec.Data
		nd := make([]byte, len(d)+1) // fresh: Data may alias the input
		copy(nd, d)
		nd[len(d)] = '\n'
		in[i].rec.Data = nd
	}
	return in, nil
}
