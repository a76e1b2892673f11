/// The release, as `gantry --version` prints it and watch's error reports record it.
public enum GantryRelease {
    public static let version = "0.1.0"
}
