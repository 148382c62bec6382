package io.msa.tests.client;

import java.util.Map;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.cloud.client.serviceregistry.Registration;
import org.springframework.core.env.Environment;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

@SpringBootApplication
@RestController
public class ClientApp {
    private final Environment env;
    private final Registration registration;

    public ClientApp(Environment env, Registration registration) {
        this.env = env;
        this.registration = registration;
    }

    public static void main(String[] args) {
        SpringApplication.run(ClientApp.class, args);
    }

    /** Reached directly and through a gateway route that keeps its prefix (/user-service/echo). */
    @GetMapping({"/echo", "/*/echo"})
    public Map<String, String> echo() {
        return Map.of(
                "app", env.getProperty("spring.application.name", ""),
                "instanceId", registration.getInstanceId(),
                "greeting", env.getProperty("greeting.message", ""));
    }
}
