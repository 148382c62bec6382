// Prints every broker property Kafka's own definition knows, one per line: name, type, range.
// Run by `python3 tasks.py kafka-properties` (msa/config/kafka_names.py) with the jars Maven put in
// target/lib, so msa:kafka.overrides is checked against the Kafka the stack runs, not a hand-made list.
//
//   java -cp 'tests/jvm/kafka/target/lib/*' tests/jvm/kafka/BrokerProperties.java
//
// KafkaConfig.configDef() is what the broker parses server.properties with (in 3.9 the same object as
// AbstractKafkaConfig.CONFIG_DEF: server, log, replication, group and transaction coordinators,
// ZooKeeper, KRaft, socket server, quotas, SSL/SASL, remote storage, metrics).

import java.util.Map;
import java.util.TreeMap;

import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.utils.AppInfoParser;

public class BrokerProperties {
    public static void main(String[] args) {
        ConfigDef definition = kafka.server.KafkaConfig.configDef();
        System.out.println("kafka\t" + AppInfoParser.getVersion());
        for (Map.Entry<String, ConfigDef.ConfigKey> entry : new TreeMap<>(definition.configKeys()).entrySet()) {
            ConfigDef.ConfigKey key = entry.getValue();
            // A Range validator prints as [min,...], [...,max] or [min,...,max]; other validators do not matter here.
            String range = key.validator instanceof ConfigDef.Range ? key.validator.toString() : "";
            System.out.println(entry.getKey() + "\t" + key.type.name() + "\t" + range);
        }
    }
}
