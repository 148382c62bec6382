package io.msa.tests.client;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.springframework.http.ResponseEntity;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.KafkaAdmin;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * One record through Kafka with the clients Spring Boot builds from spring.kafka.* (bootstrap servers,
 * security protocol, SASL mechanism from SPRING_APPLICATION_JSON; the JAAS line from the pod's env):
 * the admin client creates the topic, the template produces (in a transaction where the stack sets a
 * transaction-id-prefix), a consumer reads it back. A failure answers 500 with the root cause.
 */
@RestController
public class KafkaRoundTrip {
    private final KafkaAdmin admin;
    private final KafkaTemplate<Object, Object> template;
    private final ConsumerFactory<Object, Object> consumers;

    public KafkaRoundTrip(KafkaAdmin admin, KafkaTemplate<Object, Object> template, ConsumerFactory<Object, Object> consumers) {
        this.admin = admin;
        this.template = template;
        this.consumers = consumers;
    }

    @GetMapping("/kafka/roundtrip")
    public ResponseEntity<Map<String, Object>> roundTrip(@RequestParam String topic) {
        String value = "msa-" + UUID.randomUUID();
        try {
            admin.createOrModifyTopics(new NewTopic(topic, 1, (short) 1));
            if (template.isTransactional()) {
                template.executeInTransaction(t -> t.send(topic, value)).get(30, TimeUnit.SECONDS);
            } else {
                template.send(topic, value).get(30, TimeUnit.SECONDS);
            }
            TopicPartition partition = new TopicPartition(topic, 0);
            try (Consumer<Object, Object> consumer = consumers.createConsumer("msa-roundtrip-" + UUID.randomUUID(), null)) {
                consumer.assign(List.of(partition));
                consumer.seekToBeginning(List.of(partition));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (System.nanoTime() < deadline) {
                    for (ConsumerRecord<Object, Object> record : consumer.poll(Duration.ofSeconds(1))) {
                        if (value.equals(record.value())) {
                            return ResponseEntity.ok(Map.of("topic", topic, "value", value, "offset", record.offset(),
                                    "transactional", template.isTransactional()));
                        }
                    }
                }
            }
            return ResponseEntity.status(500).body(Map.of("error", "produced " + value + " but did not read it back"));
        } catch (Exception e) {
            Throwable root = e;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            return ResponseEntity.status(500).body(Map.of("error", root.getClass().getName() + ": " + root.getMessage()));
        }
    }
}
