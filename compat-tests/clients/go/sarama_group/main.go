// Command sarama-group-member is one Debian sarama 1.22 consumer-group member for the group
// scenario of compat-tests/tests/kafka_group_clients.rs. It reports and never judges: one JSON
// object per line on stdout (same events as clients/python/group_member.py):
//
//	{"ev":"assigned","partitions":[...]}   full current assignment at the start of each session
//	{"ev":"record","p":P,"o":O}            one line per record handed to the application
//	{"ev":"closed"}                        after a graceful close (final commit + LeaveGroup)
//
// sarama 1.22 has no synchronous commit call: records are marked as processed and its offset
// manager commits them every CommitInterval and when a session ends, so this program prints no
// "committed" events (the test reads the group's offsets from the broker instead). sarama only
// has the eager protocol; its assignors are range and roundrobin. SIGTERM ends the session
// (final commit), then Close sends LeaveGroup; the exit status is 0.
//
// Build: GO111MODULE=off GOPATH=/usr/share/gocode go build (no module proxy needed).
// Usage: sarama-group-member BOOTSTRAP TOPIC GROUP MEMBER ASSIGNOR SESSION_TIMEOUT_MS
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/Shopify/sarama"
)

const (
	heartbeatInterval = 500 * time.Millisecond
	commitInterval    = 200 * time.Millisecond
)

// emitter writes one JSON line per event; sessions' claim goroutines share it.
type emitter struct {
	lock sync.Mutex
}

func (e *emitter) emit(event map[string]interface{}) {
	line, err := json.Marshal(event)
	if err != nil {
		warn("cannot encode %v: %v", event, err)
		return
	}
	e.lock.Lock()
	defer e.lock.Unlock()
	os.Stdout.Write(append(line, '\n'))
}

func warn(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "sarama_group_member: "+format+"\n", args...)
}

// handler is sarama's ConsumerGroupHandler: one session per generation.
type handler struct {
	topic string
	out   *emitter
}

func (h *handler) Setup(session sarama.ConsumerGroupSession) error {
	partitions := append([]int32{}, session.Claims()[h.topic]...)
	sort.Slice(partitions, func(i, j int) bool { return partitions[i] < partitions[j] })
	h.out.emit(map[string]interface{}{"ev": "assigned", "partitions": partitions})
	return nil
}

func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(
	session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim,
) error {
	for message := range claim.Messages() {
		h.out.emit(map[string]interface{}{"ev": "record", "p": message.Partition, "o": message.Offset})
		session.MarkMessage(message, "")
	}
	return nil
}

func strategy(name string) sarama.BalanceStrategy {
	switch name {
	case "range":
		return sarama.BalanceStrategyRange
	case "roundrobin":
		return sarama.BalanceStrategyRoundRobin
	}
	warn("unknown assignor %q (sarama 1.22 has range and roundrobin)", name)
	os.Exit(2)
	return nil
}

func config(member, assignor string, sessionMs int) *sarama.Config {
	cfg := sarama.NewConfig()
	// Below 0.10.2 sarama would not speak consumer groups; V2_1_0_0 as in clients/go/sarama.
	cfg.Version = sarama.V2_1_0_0
	cfg.ClientID = member
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.CommitInterval = commitInterval
	// Non-zero retention makes sarama send OffsetCommit v2 instead of v1.
	cfg.Consumer.Offsets.Retention = time.Hour
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = time.Duration(sessionMs) * time.Millisecond
	cfg.Consumer.Group.Heartbeat.Interval = heartbeatInterval
	cfg.Consumer.Group.Rebalance.Strategy = strategy(assignor)
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	return cfg
}

func main() {
	if len(os.Args) != 7 {
		warn("usage: sarama-group-member BOOTSTRAP TOPIC GROUP MEMBER ASSIGNOR SESSION_TIMEOUT_MS")
		os.Exit(2)
	}
	bootstrap, topic, group := os.Args[1], os.Args[2], os.Args[3]
	member, assignor := os.Args[4], os.Args[5]
	sessionMs, err := strconv.Atoi(os.Args[6])
	if err != nil {
		warn("bad session timeout %q: %v", os.Args[6], err)
		os.Exit(2)
	}
	cfg := config(member, assignor, sessionMs)
	consumer, err := sarama.NewConsumerGroup([]string{bootstrap}, group, cfg)
	if err != nil {
		warn("cannot create the consumer group: %v", err)
		os.Exit(1)
	}
	go func() {
		for err := range consumer.Errors() {
			warn("consumer error: %v", err)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM)
	go func() {
		<-signals
		cancel()
	}()

	out := &emitter{}
	h := &handler{topic: topic, out: out}
	for ctx.Err() == nil {
		// Consume returns at the end of every session (a rebalance); join again until stopped.
		if err := consumer.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
			warn("consume: %v", err)
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := consumer.Close(); err != nil {
		warn("close: %v", err)
		os.Exit(1)
	}
	out.emit(map[string]interface{}{"ev": "closed"})
}
