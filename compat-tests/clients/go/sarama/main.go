// Command sarama-client runs Debian's sarama 1.22 against Whippet: admin calls, produce under
// every codec sarama has (none, gzip, snappy, lz4, zstd), consume each partition from the oldest
// offset. DescribeConfigs is the one admin call it cannot make (it only speaks v0; see below).
//
// sarama 1.22 sends no ApiVersions: its request versions come from config.Version, set here to
// V2_1_0_0 (the issue asks for >= V0_11_0_0, the first with record batches).
//
// Build: GO111MODULE=off GOPATH=/usr/share/gocode go build (no module proxy needed).
// Usage: sarama-client HOST:PORT
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/Shopify/sarama"
)

const (
	records    = 10000
	partitions = 3
	client     = "sarama"
	timeout    = 40 * time.Second
)

var filler = strings.Repeat("abcdefghijklmnopqrstuvwxyz0123456789", 12)

var codecs = []struct {
	name  string
	codec sarama.CompressionCodec
}{
	{"none", sarama.CompressionNone},
	{"gzip", sarama.CompressionGZIP},
	{"snappy", sarama.CompressionSnappy},
	{"lz4", sarama.CompressionLZ4},
	{"zstd", sarama.CompressionZSTD},
}

type failure string

func fail(format string, args ...interface{}) {
	panic(failure(fmt.Sprintf(format, args...)))
}

func check(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

type want struct {
	partition int32
	key       string
	value     string
	headers   []sarama.RecordHeader
	timestamp time.Time
}

// record is the i-th record, as in compat-tests/clients/python/common.py.
func record(i int, codec string, base time.Time) want {
	return want{
		partition: int32(i % partitions),
		key:       fmt.Sprintf("key-%s-%d", codec, i),
		value:     fmt.Sprintf("value-%s-%s-%05d-", client, codec, i) + filler[:(i*37)%400],
		headers: []sarama.RecordHeader{
			{Key: []byte("idx"), Value: []byte(strconv.Itoa(i))},
			{Key: []byte("codec"), Value: []byte(codec)},
			{Key: []byte("empty"), Value: []byte{}},
		},
		timestamp: base.Add(time.Duration(i) * time.Millisecond),
	}
}

func expectedCount(p int) int64 { return int64((records - p + partitions - 1) / partitions) }

func newConfig(codec sarama.CompressionCodec) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_1_0_0
	cfg.ClientID = "whippet-compat"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Compression = codec
	cfg.Producer.Flush.Frequency = 5 * time.Millisecond
	cfg.Consumer.Offsets.Retention = time.Hour
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	return cfg
}

func waitPartitions(admin sarama.ClusterAdmin, topic string, n int) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		metas, err := admin.DescribeTopics([]string{topic})
		if err == nil && len(metas) == 1 && metas[0].Err == sarama.ErrNoError && len(metas[0].Partitions) == n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	fail("metadata never showed %s with %d partitions", topic, n)
}

func createTopic(admin sarama.ClusterAdmin, topic string, n int32, configs map[string]*string) {
	check(admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: n, ReplicationFactor: 1, ConfigEntries: configs}, false), "create "+topic)
	waitPartitions(admin, topic, int(n))
}

func str(s string) *string { return &s }

func adminScenario(addr string, admin sarama.ClusterAdmin, topic string) {
	createTopic(admin, topic, 3, map[string]*string{"retention.ms": str("3600000")})
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false); err == nil ||
		!strings.Contains(err.Error(), sarama.ErrTopicAlreadyExists.Error()) {
		fail("second create of %s: %v, expected %v", topic, err, sarama.ErrTopicAlreadyExists)
	}
	// sarama 1.22 sends DescribeConfigs v0, which Kafka 4 and kafka-protocol 0.18 no longer
	// have (Whippet advertises 1-4): the broker must refuse it, on a connection of its own.
	probe, err := sarama.NewClusterAdmin([]string{addr}, newConfig(sarama.CompressionNone))
	check(err, "probe admin")
	if _, err := probe.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic}); err == nil {
		fail("DescribeConfigs v0 was answered; expected it to be refused (not advertised)")
	}
	probe.Close()
	check(admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": str("7200000")}, false), "alter configs")

	check(admin.CreatePartitions(topic, 5, nil, false), "create partitions")
	waitPartitions(admin, topic, 5)

	cl, err := sarama.NewClient([]string{addr}, newConfig(sarama.CompressionNone))
	check(err, "client")
	defer cl.Close()
	producer, err := sarama.NewSyncProducerFromClient(cl)
	check(err, "producer")
	for i := 0; i < 10; i++ {
		_, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))})
		check(err, "produce to "+topic)
	}
	check(producer.Close(), "producer close")
	check(admin.DeleteRecords(topic, map[int32]int64{0: 4}), "delete records")
	oldest, err := cl.GetOffset(topic, 0, sarama.OffsetOldest)
	check(err, "oldest offset")
	newest, err := cl.GetOffset(topic, 0, sarama.OffsetNewest)
	check(err, "newest offset")
	if oldest != 4 || newest != 10 {
		fail("%s[0]: offsets after delete records (%d, %d) != (4, 10)", topic, oldest, newest)
	}

	// DescribeCluster sends Metadata v0, which has no controller id (-1); the client's own
	// metadata (v5 here) names the controller.
	brokers, _, err := admin.DescribeCluster()
	check(err, "describe cluster")
	controller, err := cl.Controller()
	check(err, "controller")
	if len(brokers) != 1 || brokers[0].ID() != controller.ID() {
		fail("describe cluster: %d brokers, controller %d", len(brokers), controller.ID())
	}

	check(admin.DeleteTopic(topic), "delete topic")
	deadline := time.Now().Add(15 * time.Second)
	for {
		// (ListTopics would also send DescribeConfigs v0.)
		metas, err := admin.DescribeTopics([]string{topic})
		check(err, "describe topics")
		if len(metas) == 1 && metas[0].Err == sarama.ErrUnknownTopicOrPartition {
			break
		}
		if time.Now().After(deadline) {
			fail("%s still listed after delete topic", topic)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func produce(addr, topic, codec string, cc sarama.CompressionCodec, base time.Time) {
	producer, err := sarama.NewSyncProducer([]string{addr}, newConfig(cc))
	check(err, "producer")
	defer producer.Close()
	const chunk = 1000
	for start := 0; start < records; start += chunk {
		msgs := make([]*sarama.ProducerMessage, 0, chunk)
		for i := start; i < start+chunk && i < records; i++ {
			w := record(i, codec, base)
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: w.partition,
				Key: sarama.StringEncoder(w.key), Value: sarama.StringEncoder(w.value),
				Headers: w.headers, Timestamp: w.timestamp})
		}
		check(producer.SendMessages(msgs), "produce to "+topic)
		for j, m := range msgs {
			if i := start + j; m.Offset != int64(i/partitions) {
				fail("%s: record %d acknowledged at offset %d, expected %d", topic, i, m.Offset, i/partitions)
			}
		}
	}
}

func checkMessage(topic, codec string, base time.Time, p int32, offset int64, m *sarama.ConsumerMessage) {
	where := fmt.Sprintf("%s[%d]@%d", topic, p, m.Offset)
	if m.Offset != offset {
		fail("%s: expected offset %d", where, offset)
	}
	w := record(int(offset)*partitions+int(p), codec, base)
	if string(m.Key) != w.key || string(m.Value) != w.value {
		fail("%s: key/value %q/%.40q != %q/%.40q", where, m.Key, m.Value, w.key, w.value)
	}
	if len(m.Headers) != len(w.headers) {
		fail("%s: %d headers, expected %d", where, len(m.Headers), len(w.headers))
	}
	for k, h := range m.Headers {
		if !bytes.Equal(h.Key, w.headers[k].Key) || !bytes.Equal(h.Value, w.headers[k].Value) {
			fail("%s: header %d = %q:%q, expected %q:%q", where, k, h.Key, h.Value, w.headers[k].Key, w.headers[k].Value)
		}
	}
	if !m.Timestamp.Equal(w.timestamp) {
		fail("%s: timestamp %v != %v", where, m.Timestamp, w.timestamp)
	}
}

func consume(addr, topic, codec string, base time.Time) {
	cl, err := sarama.NewClient([]string{addr}, newConfig(sarama.CompressionNone))
	check(err, "client")
	defer cl.Close()
	consumer, err := sarama.NewConsumerFromClient(cl)
	check(err, "consumer")
	defer consumer.Close()
	for p := int32(0); p < partitions; p++ {
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		check(err, fmt.Sprintf("consume %s[%d]", topic, p))
		deadline := time.After(timeout)
		for offset := int64(0); offset < expectedCount(int(p)); offset++ {
			select {
			case m := <-pc.Messages():
				checkMessage(topic, codec, base, p, offset, m)
			case e := <-pc.Errors():
				fail("%s[%d]: consumer error %v", topic, p, e)
			case <-deadline:
				fail("%s[%d]: timed out at offset %d", topic, p, offset)
			}
		}
		check(pc.Close(), "partition consumer close")
		newest, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		check(err, "newest offset")
		oldest, err := cl.GetOffset(topic, p, sarama.OffsetOldest)
		check(err, "oldest offset")
		if oldest != 0 || newest != expectedCount(int(p)) {
			fail("%s[%d]: offsets (%d, %d) != (0, %d)", topic, p, oldest, newest, expectedCount(int(p)))
		}
	}
}

func run(addr string) {
	admin, err := sarama.NewClusterAdmin([]string{addr}, newConfig(sarama.CompressionNone))
	check(err, "cluster admin")
	defer admin.Close()
	adminScenario(addr, admin, "sarama-admin")
	fmt.Println("admin: ok")
	for _, c := range codecs {
		topic := "sarama-" + c.name
		createTopic(admin, topic, partitions, nil)
		base := time.Unix(time.Now().Unix()-3600, 0)
		started := time.Now()
		produce(addr, topic, c.name, c.codec, base)
		produced := time.Now()
		consume(addr, topic, c.name, base)
		fmt.Printf("%s: %d records ok (produce %.1fs, consume %.1fs)\n", c.name, records,
			produced.Sub(started).Seconds(), time.Since(produced).Seconds())
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sarama-client HOST:PORT")
		os.Exit(2)
	}
	started := time.Now()
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(failure); ok {
				fmt.Printf("FAIL: %s\n", f)
				os.Exit(1)
			}
			panic(r)
		}
	}()
	run(os.Args[1])
	fmt.Printf("OK (%.1fs)\n", time.Since(started).Seconds())
}
