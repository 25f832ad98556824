// Command sarama-secure runs Debian's sarama 1.22 against Whippet's SASL_SSL listener with
// SASL/PLAIN: produce 20 records (sync producer) and read them back from the oldest offset; or,
// with EXPECT=auth-failed, check that the client cannot connect because authentication fails.
//
// sarama 1.22 sends no ApiVersions and speaks the SaslHandshake v0/v1 exchange its config.Version
// selects (V2_1_0_0 here: handshake v1, then SaslAuthenticate).
//
// Build: GO111MODULE=off GOPATH=/usr/share/gocode go build (no module proxy needed).
// Usage: sarama-secure HOST:PORT TOPIC CA_FILE USER PASSWORD EXPECT
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io/ioutil"
	"os"
	"time"

	"github.com/Shopify/sarama"
)

const records = 20

func config(caFile, user, password string) *sarama.Config {
	pem, err := ioutil.ReadFile(caFile)
	if err != nil {
		fmt.Printf("FAIL: read CA: %v\n", err)
		os.Exit(1)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_1_0_0
	cfg.ClientID = "sarama-secure"
	cfg.Net.TLS.Enable = true
	cfg.Net.TLS.Config = &tls.Config{RootCAs: roots, ServerName: "localhost"}
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Handshake = true
	cfg.Net.SASL.User = user
	cfg.Net.SASL.Password = password
	cfg.Net.DialTimeout = 10 * time.Second
	cfg.Metadata.Retry.Max = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	return cfg
}

func main() {
	addr, topic, caFile, user, password, expect := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5], os.Args[6]
	cfg := config(caFile, user, password)
	producer, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if expect == "auth-failed" {
		if err == nil {
			fmt.Println("FAIL: authenticated with a wrong password")
			os.Exit(1)
		}
		fmt.Printf("OK authentication refused: %v\n", err)
		return
	}
	if err != nil {
		fmt.Printf("FAIL: producer: %v\n", err)
		os.Exit(1)
	}
	for i := 0; i < records; i++ {
		msg := &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprintf("secure-%d", i))}
		if _, _, err := producer.SendMessage(msg); err != nil {
			fmt.Printf("FAIL: send %d: %v\n", i, err)
			os.Exit(1)
		}
	}
	producer.Close()
	consumer, err := sarama.NewConsumer([]string{addr}, cfg)
	if err != nil {
		fmt.Printf("FAIL: consumer: %v\n", err)
		os.Exit(1)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		fmt.Printf("FAIL: consume: %v\n", err)
		os.Exit(1)
	}
	defer pc.Close()
	deadline := time.After(30 * time.Second)
	for i := 0; i < records; i++ {
		select {
		case msg := <-pc.Messages():
			if want := fmt.Sprintf("secure-%d", i); string(msg.Value) != want {
				fmt.Printf("FAIL: record %d is %q, want %q\n", i, msg.Value, want)
				os.Exit(1)
			}
		case <-deadline:
			fmt.Printf("FAIL: only %d records came back\n", i)
			os.Exit(1)
		}
	}
	fmt.Printf("OK sarama %d records over SASL_SSL PLAIN\n", records)
}
