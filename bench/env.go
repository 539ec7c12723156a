package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Env describes the machine and build a run was made on.
type Env struct {
	CPU        string // model name
	CPUs       int    // the machine's
	Kernel     string
	GoVersion  string
	GOMAXPROCS int // of the load generator
	Commit     string
	Date       time.Time
	Mosquitto  string // version line, when it ran
	LoadAvg    string // /proc/loadavg at the start
	LoadAvgEnd string // and at the end, set by Finish
}

// Finish notes the load average at the end of the runs.
func (e *Env) Finish() {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		e.LoadAvgEnd = strings.Join(strings.Fields(string(b))[:3], " ")
	}
}

// loadAvg1 returns the 1-minute load average, 0 if unknown.
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// ReadEnv gathers Env; what cannot be read is left empty.
func ReadEnv(mosquitto string) Env {
	e := Env{GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), Date: time.Now().UTC()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			switch strings.TrimSpace(k) {
			case "model name":
				e.CPU = strings.TrimSpace(v)
			case "processor":
				e.CPUs++ // all of the machine's, whatever this process's affinity
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		e.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if b, err := exec.Command("lscpu").Output(); err == nil { // names the model where cpuinfo does not
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "Model name:"); ok {
				e.CPU = strings.TrimSpace(v)
			}
		}
	}
	if b, err := exec.Command("git", "describe", "--always", "--dirty", "--abbrev=12").Output(); err == nil {
		e.Commit = strings.TrimSpace(string(b))
	}
	if mosquitto != "" {
		// mosquitto -h prints its version first and exits with status 3.
		b, _ := exec.Command(mosquitto, "-h").CombinedOutput()
		e.Mosquitto, _, _ = strings.Cut(string(b), "\n")
	}
	return e
}

// Write prints e as a Markdown list.
func (e Env) Write(w io.Writer) {
	fmt.Fprintf(w, "- CPU: %s, %d CPUs; kernel %s\n", e.CPU, e.CPUs, e.Kernel)
	fmt.Fprintf(w, "- Go: %s; load generator GOMAXPROCS %d\n", e.GoVersion, e.GOMAXPROCS)
	fmt.Fprintf(w, "- commit: %s; date: %s\n", e.Commit, e.Date.Format("2006-01-02 15:04 UTC"))
	if e.Mosquitto != "" {
		fmt.Fprintf(w, "- %s\n", e.Mosquitto)
	}
	fmt.Fprintf(w, "- load average (1, 5, 15 min) at the start: %s", e.LoadAvg)
	if e.LoadAvgEnd != "" {
		fmt.Fprintf(w, "; at the end: %s", e.LoadAvgEnd)
	}
	fmt.Fprintln(w, " (the machine is shared: other work shows here)")
}
