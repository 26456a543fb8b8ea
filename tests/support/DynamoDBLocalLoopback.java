// Starts DynamoDB Local (the jar from amplify-dynamodb-simulator) listening on one address
// only. DynamoDBLocal.jar 1.25.1 has no option for the listen address and binds every
// interface; this launcher builds the server exactly as the jar's own main does
// (ServerRunner.createServerFromCommandLineArgs, same arguments), then sets the host of its
// Jetty connector before start. Run in Java's source-file mode (no javac step needed):
//   java -Dappt.ddb.host=127.0.0.1 -Djava.library.path=<dir>/DynamoDBLocal_lib \
//        -cp <dir>/DynamoDBLocal.jar DynamoDBLocalLoopback.java -inMemory -sharedDb -port N
import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.AbstractNetworkConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;

public class DynamoDBLocalLoopback {
    public static void main(String[] args) throws Exception {
        String host = System.getProperty("appt.ddb.host", "127.0.0.1");
        DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
        if (proxy == null)
            return; // -help / -version, already printed
        Field field = DynamoDBProxyServer.class.getDeclaredField("server");
        field.setAccessible(true);
        Server jetty = (Server) field.get(proxy);
        for (Connector connector : jetty.getConnectors())
            ((AbstractNetworkConnector) connector).setHost(host);
        proxy.start();
        System.out.println("DynamoDB Local listening on " + host);
        proxy.join();
    }
}
