// Reads stdin and writes stdout through snappy-java (Debian's libsnappy-java),
// the reference implementation of the Snappy CompressionFormat. Independent of
// Hydrant's Go code.
//
//   decode         xerial stream -> bytes, with SnappyInputStream
//   encode         bytes -> xerial stream, with SnappyOutputStream
//   encode-hadoop  bytes -> Hadoop framing, with SnappyHadoopCompatibleOutputStream
import java.io.InputStream;
import java.io.OutputStream;
import org.xerial.snappy.SnappyHadoopCompatibleOutputStream;
import org.xerial.snappy.SnappyInputStream;
import org.xerial.snappy.SnappyOutputStream;

public class SnappyJavaCodec {
    public static void main(String[] args) throws Exception {
        InputStream in = System.in;
        OutputStream out = System.out;
        switch (args[0]) {
            case "decode":
                in = new SnappyInputStream(System.in);
                break;
            case "encode":
                out = new SnappyOutputStream(System.out);
                break;
            case "encode-hadoop":
                out = new SnappyHadoopCompatibleOutputStream(System.out);
                break;
            default:
                throw new IllegalArgumentException("mode " + args[0]);
        }
        in.transferTo(out);
        out.close();
    }
}
