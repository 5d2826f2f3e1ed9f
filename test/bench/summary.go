package main

import (
	"math"
	"slices"
)

// spread is the median and range of one quantity over the rounds.
type spread struct {
	Median, Min, Max float64
	N                int
}

// summarize returns the spread of values. Without values, every field is NaN.
func summarize(values []float64) spread {
	if len(values) == 0 {
		return spread{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	n := len(sorted)
	median := sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return spread{Median: median, Min: sorted[0], Max: sorted[n-1], N: n}
}

// overlaps reports whether the ranges of two spreads overlap, so that the
// order of their medians may be noise.
func (s spread) overlaps(o spread) bool { return s.Min <= o.Max && o.Min <= s.Max }

// setupByID finds a setup of any phase by its ID.
func setupByID(id string) setup {
	for _, list := range [][]setup{tightSetups, rateSetups, nginxSetups} {
		for _, s := range list {
			if s.ID == id {
				return s
			}
		}
	}
	return setup{ID: id, Label: id}
}

// tightSummary is one setup's tight-loop results over the rounds.
type tightSummary struct {
	Setup setup
	// Ratio is the time per call over the untraced run's in the same round.
	Ratio map[string]spread
	// Ns is the time per call in nanoseconds.
	Ns          map[string]spread
	BPFSendfile spread
	BPFGetppid  spread
	// Programs holds each program's median ns per run in the sendfile loop
	// and, for programs that hook every system call, in the getppid loop.
	Programs []programSummary
}

// programSummary is one BPF program's median run time.
type programSummary struct {
	Name             string
	Type             string
	SendfileNsPerRun spread
	GetppidNsPerRun  spread
}

func summarizeTight(runs []tightRun) []tightSummary {
	baseline := make(map[int]tightRun)
	for _, run := range runs {
		if run.Setup == setupUntraced.ID {
			baseline[run.Round] = run
		}
	}

	var out []tightSummary
	for _, s := range tightSetups {
		ratios := make(map[string][]float64)
		ns := make(map[string][]float64)
		var bpfSendfile, bpfGetppid []float64
		programSendfile := make(map[string][]float64)
		programGetppid := make(map[string][]float64)
		programType := make(map[string]string)
		var programOrder []string
		found := false
		for _, run := range runs {
			if run.Setup != s.ID {
				continue
			}
			found = true
			base, hasBase := baseline[run.Round]
			for call, value := range run.NsPerCall {
				ns[call] = append(ns[call], value)
				if hasBase && base.NsPerCall[call] > 0 {
					ratios[call] = append(ratios[call], value/base.NsPerCall[call])
				}
			}
			if run.BPF == nil {
				continue
			}
			bpfSendfile = append(bpfSendfile, run.BPF.SendfileNs)
			bpfGetppid = append(bpfGetppid, run.BPF.GetppidNs)
			for _, p := range run.BPF.Sendfile {
				if _, ok := programType[p.Name]; !ok {
					programOrder = append(programOrder, p.Name)
				}
				programType[p.Name] = p.Type
				programSendfile[p.Name] = append(programSendfile[p.Name], p.NsPerRun)
			}
			for _, p := range run.BPF.Getppid {
				if p.EveryCall {
					programGetppid[p.Name] = append(programGetppid[p.Name], p.NsPerRun)
				}
			}
		}
		if !found {
			continue
		}
		summary := tightSummary{
			Setup:       s,
			Ratio:       make(map[string]spread),
			Ns:          make(map[string]spread),
			BPFSendfile: summarize(bpfSendfile),
			BPFGetppid:  summarize(bpfGetppid),
		}
		for _, call := range tightCalls {
			summary.Ratio[call] = summarize(ratios[call])
			summary.Ns[call] = summarize(ns[call])
		}
		for _, name := range programOrder {
			summary.Programs = append(summary.Programs, programSummary{
				Name:             name,
				Type:             programType[name],
				SendfileNsPerRun: summarize(programSendfile[name]),
				GetppidNsPerRun:  summarize(programGetppid[name]),
			})
		}
		out = append(out, summary)
	}
	return out
}

// rateSummary is one setup at one offered rate over the rounds.
type rateSummary struct {
	Setup    setup
	Offered  float64
	Achieved spread
	// Share is the fraction of the workload's calls that arrived as spans
	// or printed lines.
	Share spread
	// Complete is true when every call arrived in every round.
	Complete bool
	// Cores is the tracer's CPU time over the workload's run time.
	Cores  spread
	RSSMiB spread
	// Lost is the largest count of each lost-event reason over the rounds.
	Lost map[string]int64
	// OtherArrived is the largest count, over the rounds, of spans or lines
	// from other processes' sendfile calls.
	OtherArrived int64
}

func summarizeRates(runs []rateRun, rates []float64) []rateSummary {
	var out []rateSummary
	for _, s := range rateSetups {
		for _, rate := range rates {
			var achieved, share, cores, rss []float64
			complete := true
			lost := make(map[string]int64)
			var otherArrived int64
			for _, run := range runs {
				if run.Setup != s.ID || run.Offered != rate {
					continue
				}
				achieved = append(achieved, run.Achieved)
				share = append(share, float64(run.Arrived)/float64(run.Calls))
				cores = append(cores, run.CPUSeconds/(float64(run.LoopNs)/1e9))
				rss = append(rss, float64(run.PeakRSS)/(1<<20))
				if run.Arrived != run.Calls {
					complete = false
				}
				for reason, n := range run.Lost {
					lost[reason] = max(lost[reason], n)
				}
				otherArrived = max(otherArrived, run.OtherArrived)
			}
			if len(achieved) == 0 {
				continue
			}
			out = append(out, rateSummary{
				Setup:    s,
				Offered:  rate,
				Achieved: summarize(achieved),
				Share:    summarize(share),
				Complete: complete,
				Cores:    summarize(cores),
				RSSMiB:   summarize(rss),
				Lost:     lost,

				OtherArrived: otherArrived,
			})
		}
	}
	return out
}

// nginxSummary is one setup's nginx runs over the rounds.
type nginxSummary struct {
	Setup     setup
	ReqPerSec spread
	// Ratio is requests per second over the untraced run's in the same round.
	Ratio       spread
	SpansPerReq spread
	Cores       spread
}

func summarizeNginx(runs []nginxRun) []nginxSummary {
	baseline := make(map[int]float64)
	for _, run := range runs {
		if run.Setup == setupUntraced.ID {
			baseline[run.Round] = float64(run.Requests) / run.Seconds
		}
	}
	var out []nginxSummary
	for _, s := range nginxSetups {
		var rps, ratio, spansPerReq, cores []float64
		for _, run := range runs {
			if run.Setup != s.ID {
				continue
			}
			value := float64(run.Requests) / run.Seconds
			rps = append(rps, value)
			if base := baseline[run.Round]; base > 0 {
				ratio = append(ratio, value/base)
			}
			spansPerReq = append(spansPerReq, float64(run.Spans)/float64(run.Requests))
			cores = append(cores, run.CPUSeconds/run.Seconds)
		}
		if len(rps) == 0 {
			continue
		}
		out = append(out, nginxSummary{
			Setup:       s,
			ReqPerSec:   summarize(rps),
			Ratio:       summarize(ratio),
			SpansPerReq: summarize(spansPerReq),
			Cores:       summarize(cores),
		})
	}
	return out
}
